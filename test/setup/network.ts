import nock from "nock";

// Tests talk to loopback only: real registries started by the suite, or nock.
nock.disableNetConnect();
nock.enableNetConnect((host) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)(:\d+)?$/.test(host));
