import nock from "nock";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAddressCheckedLookup, createPrivateAddressPolicy, type Lookup } from "../../src/registry/host-policy.js";
import { nodeHttpClient } from "../../src/net/http-client.js";
import { registryError } from "./fixtures.js";

/** A resolver answering from a table, so the tests need no DNS. */
const table: Record<string, { address: string; family: number }[]> = {
  "public.example.test": [{ address: "93.184.216.34", family: 4 }],
  "mixed.example.test": [
    { address: "93.184.216.34", family: 4 },
    { address: "10.1.2.3", family: 4 },
  ],
  "v6private.example.test": [{ address: "fd12:3456::1", family: 6 }],
  "mapped.example.test": [{ address: "::ffff:192.168.1.1", family: 6 }],
  "metadata.example.test": [{ address: "169.254.169.254", family: 4 }],
  localhost: [
    { address: "::1", family: 6 },
    { address: "127.0.0.1", family: 4 },
  ],
};
const lookup = async (hostname: string) => {
  const found = table[hostname];
  if (!found) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
  return found;
};

describe("createPrivateAddressPolicy", () => {
  const policy = createPrivateAddressPolicy({ lookup, allow: ["localhost:5000", "mixed.example.test"] });

  it("lets public hosts through", async () => {
    await expect(policy("public.example.test")).resolves.toBeUndefined();
    await expect(policy("public.example.test:443")).resolves.toBeUndefined();
    await expect(policy("93.184.216.34")).resolves.toBeUndefined();
  });

  it.each([
    "127.0.0.1",
    "127.8.9.10:5000",
    "[::1]:5000",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.10",
    "169.254.169.254",
    "[fe80::1]",
    "[fc00::1]",
    "0.0.0.0",
    "100.100.100.200",
    "198.18.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "[fec0::1]",
    "[ff02::1]",
    "[64:ff9b::a9fe:a9fe]",
    "[2002:a00:1::1]",
    "v6private.example.test",
    "mapped.example.test",
    "metadata.example.test",
    "localhost",
  ])("refuses %s", async (host) => {
    const error = await registryError(createPrivateAddressPolicy({ lookup })(host));
    expect(error.code).toBe("FORBIDDEN_HOST");
    expect(error.message).toContain("private address");
  });

  it("refuses a host when any of its addresses is private", async () => {
    const strict = createPrivateAddressPolicy({ lookup });
    expect((await registryError(strict("mixed.example.test"))).code).toBe("FORBIDDEN_HOST");
  });

  it("allows listed hosts, with or without their port", async () => {
    await expect(policy("localhost:5000")).resolves.toBeUndefined();
    await expect(policy("mixed.example.test:8443")).resolves.toBeUndefined();
    expect((await registryError(policy("localhost:6000"))).code).toBe("FORBIDDEN_HOST");
  });

  it("does not treat 172.32/12 neighbours as private", async () => {
    await expect(policy("172.32.0.1")).resolves.toBeUndefined();
    await expect(policy("172.15.255.255")).resolves.toBeUndefined();
    await expect(policy("100.128.0.1")).resolves.toBeUndefined();
    await expect(policy("[2606:4700::1111]")).resolves.toBeUndefined();
  });

  it("reports a name that does not resolve as a network problem", async () => {
    const error = await registryError(policy("nowhere.example.test"));
    expect(error.code).toBe("NETWORK");
    expect(error.message).toContain("ENOTFOUND");
  });
});

describe("createAddressCheckedLookup, as the app's registry client connects", () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_request, response) => response.end("registry"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  // nock checks a request's host name before it lets it out; this name only ever reaches the loopback server.
  const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)(:\d+)?$/;
  beforeAll(() => nock.enableNetConnect((host) => LOOPBACK.test(host) || /^rebind\.example\.test(:\d+)?$/.test(host)));
  afterAll(() => nock.enableNetConnect((host) => LOOPBACK.test(host)));

  // A name that resolved to a public address when the policy checked it, and resolves to loopback now.
  const rebinding: Lookup = (_hostname, options, callback) =>
    options.all ? callback(null, [{ address: "127.0.0.1", family: 4 }]) : callback(null, "127.0.0.1", 4);

  const get = (lookup: ReturnType<typeof createAddressCheckedLookup>) =>
    nodeHttpClient({ lookup })(new URL(`http://rebind.example.test:${port}/v2/`), { method: "GET", headers: {}, signal: new AbortController().signal });

  it("refuses a connection whose address is private at connect time (DNS rebinding)", async () => {
    const error = (await get(createAddressCheckedLookup({ lookup: rebinding })).then(
      () => undefined,
      (e: unknown) => e,
    )) as NodeJS.ErrnoException;
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe("EDIGESTAPRIVATE");
    expect(error.message).toMatch(/refusing to connect to rebind\.example\.test: it now resolves to the private address 127\.0\.0\.1/);
  });

  it("connects a host the operator allowed by name, wherever it resolves", async () => {
    const response = await get(createAddressCheckedLookup({ lookup: rebinding, allow: [`rebind.example.test:${port}`] }));
    expect(response.status).toBe(200);
    response.discard();
  });
});
