import nock from "nock";

// Tests talk to loopback only: real registries started by the suite, or nock.
nock.disableNetConnect();
nock.enableNetConnect((host) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)(:\d+)?$/.test(host));

// The public OSV service is never asked from a test: suites that want vulnerabilities start their own.
process.env["DIGESTA_OSV_URL"] = "off";
