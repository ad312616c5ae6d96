// Registry and GitHub traffic through a real forward proxy (Debian's tinyproxy), started here on a free loopback
// port with its own config and log: what goes through it, what NO_PROXY keeps direct, how a refusal reads, and that
// neither the host policy nor the credential rules are loosened by it.
import type { LookupFunction } from "node:net";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAddressCheckedLookup, createPrivateAddressPolicy } from "../../src/registry/host-policy.js";
import { createRegistryClient } from "../../src/registry/client.js";
import { createSessionFactory } from "../../src/app/registry-setup.js";
import { RegistryError } from "../../src/registry/errors.js";
import { staticCredentials } from "../../src/registry/credentials.js";
import { ProbotOctokit } from "probot";
import { githubRequestOptions, withGitHubProxy } from "../../src/net/proxy-fetch.js";
import type { ImageName } from "../../src/reference/types.js";
import { GitHubFake } from "../support/github-fake.js";
import { pushBuild } from "../support/images.js";
import { startProxyServer, type ProxyServer } from "../support/proxy-server.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

let registry: TestRegistry;
let locked: TestRegistry;
let proxy: ProxyServer;
let guarded: ProxyServer;
let refusing: ProxyServer;
let digest: string;

beforeAll(async () => {
  [registry, locked] = await Promise.all([startRegistry(), startRegistry({ auth: "htpasswd" })]);
  digest = (await pushBuild(registry, "team/app", "1.0")).digest;
  await pushBuild(locked, "team/app", "1.0");
  const ports = [Number(new URL(registry.url).port), Number(new URL(locked.url).port)];
  [proxy, guarded, refusing] = await Promise.all([
    startProxyServer({ connectPorts: ports }),
    startProxyServer({ connectPorts: ports, credentials: { username: "proxyuser", password: "pr0xy-s3cret" } }),
    // Tunnels only to a port nothing here uses: every CONNECT to the registries is refused (403).
    startProxyServer({ connectPorts: [9] }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), locked?.stop(), proxy?.stop(), guarded?.stop(), refusing?.stop()]);
});

const image = (reg: TestRegistry): ImageName => ({ registry: reg.host, repository: "team/app" });
const client = (env: NodeJS.ProcessEnv, extra: Parameters<typeof createRegistryClient>[0] = {}) =>
  createRegistryClient({ env, credentials: staticCredentials({}), retries: 0, backoff: { baseMs: 1 }, timeoutMs: 5000, ...extra });

async function failure(promise: Promise<unknown>): Promise<RegistryError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value).slice(0, 200)}`);
  expect(outcome.error).toBeInstanceOf(RegistryError);
  return outcome.error as RegistryError;
}

describe("registry traffic through HTTP_PROXY and HTTPS_PROXY", () => {
  it("tunnels every request to the registry through the proxy (CONNECT), and reads the tag as it is", async () => {
    const before = (await proxy.connects()).length;
    const resolved = await client({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url }).headManifest(image(registry), "1.0");
    expect(resolved.digest).toBe(digest);
    const tunnels = (await proxy.connects()).slice(before);
    expect(tunnels.length).toBeGreaterThan(0);
    expect(new Set(tunnels)).toEqual(new Set([registry.host]));
  });

  it("reads the lowercase names too, and they win over the uppercase ones", async () => {
    const before = (await proxy.connects()).length;
    const env = { https_proxy: proxy.url, http_proxy: proxy.url, HTTP_PROXY: refusing.url, HTTPS_PROXY: refusing.url };
    expect((await client(env).headManifest(image(registry), "1.0")).digest).toBe(digest);
    expect((await proxy.connects()).length).toBeGreaterThan(before);
  });

  it.each([
    ["the host", () => "127.0.0.1"],
    ["host and port", () => registry.host],
    ["a CIDR block", () => "127.0.0.0/8"],
    ["*", () => "*"],
    ["one of a list, with spaces", () => `example.com, ${registry.host} ,.internal`],
  ])("goes direct when NO_PROXY names %s", async (_what, entry) => {
    const before = (await refusing.connects()).length;
    const env = { HTTP_PROXY: refusing.url, HTTPS_PROXY: refusing.url, NO_PROXY: entry() };
    expect((await client(env).headManifest(image(registry), "1.0")).digest).toBe(digest);
    expect((await refusing.connects()).length).toBe(before);
  });

  it("still uses the proxy when NO_PROXY names another port or another host", async () => {
    const env = { HTTP_PROXY: refusing.url, HTTPS_PROXY: refusing.url, no_proxy: "127.0.0.1:1,127.0.0.2,localhost" };
    const error = await failure(client(env).headManifest(image(registry), "1.0"));
    expect(error.message).toContain("refused a tunnel");
  });

  it("says in one line that the proxy refused, naming it without its credentials, and does not retry a refusal", async () => {
    const env = { HTTP_PROXY: refusing.url.replace("http://", "http://someone:hunter2@"), HTTPS_PROXY: refusing.url.replace("http://", "http://someone:hunter2@") };
    const before = (await refusing.connects()).length;
    const error = await failure(client(env, { retries: 3 }).headManifest(image(registry), "1.0"));
    expect(error.code).toBe("NETWORK");
    expect(error.message).not.toContain("\n");
    expect(error.message).toContain(`the proxy ${refusing.url} refused a tunnel to ${registry.host}: 403`);
    expect(error.message).not.toContain("hunter2");
    expect(error.message).not.toContain("someone");
    // The HTTPS probe and the plain-HTTP fallback of a loopback registry: one tunnel asked for each, no retries.
    expect((await refusing.connects()).length - before).toBe(2);
  });

  it("sends the proxy's own credentials to the proxy, and says what to do when they are missing", async () => {
    const withCredentials = guarded.url.replace("http://", "http://proxyuser:pr0xy-s3cret@");
    expect((await client({ HTTP_PROXY: withCredentials, HTTPS_PROXY: withCredentials }).headManifest(image(registry), "1.0")).digest).toBe(digest);
    const error = await failure(client({ HTTP_PROXY: guarded.url, HTTPS_PROXY: guarded.url }).headManifest(image(registry), "1.0"));
    expect(error.message).toContain("407");
    expect(error.message).toContain("the proxy asks for credentials");
  });

  it("refuses a proxy address it cannot use, before any request", () => {
    expect(() => client({ HTTPS_PROXY: "socks5://127.0.0.1:1080" })).toThrow(/socks5 proxy; only http:\/\/ and https:\/\/ proxies/);
  });
});

describe("the credential rules hold through a proxy", () => {
  it("sends no registry credentials over plain HTTP through a proxy, even to a loopback registry", async () => {
    const credentials = staticCredentials({ [locked.host]: { kind: "basic", username: locked.username!, password: locked.password! } });
    // Direct, the loopback registry gets its credentials over plain HTTP (nothing to sniff on loopback)…
    expect((await client({}, { credentials }).headManifest(image(locked), "1.0")).digest).toMatch(/^sha256:/);
    // …through a proxy the bytes cross the network in clear, so they are not sent.
    const error = await failure(client({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url }, { credentials }).headManifest(image(locked), "1.0"));
    expect(error.code).toBe("UNAUTHORIZED");
  });
});

describe("the host policy holds through a proxy", () => {
  const env = () => ({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url });
  // nock checks a request's host name before it lets it out; these names only ever reach the loopback proxy.
  const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)(:\d+)?$/;
  beforeAll(() => nock.enableNetConnect((host) => LOOPBACK.test(host) || /^(rebind|pinned)\.example\.test(:\d+)?$/.test(host)));
  afterAll(() => nock.enableNetConnect((host) => LOOPBACK.test(host)));

  it("refuses a host that resolves to a private address before asking the proxy for anything", async () => {
    const before = (await proxy.connects()).length;
    const lookup = createAddressCheckedLookup();
    const error = await failure(client(env(), { hostPolicy: createPrivateAddressPolicy(), lookup }).headManifest(image(registry), "1.0"));
    expect(error.code).toBe("FORBIDDEN_HOST");
    expect((await proxy.connects()).length).toBe(before);
  });

  it("refuses a name that turned private after the policy's check (DNS rebinding): the proxy is never asked to resolve it", async () => {
    const port = new URL(registry.url).port;
    const name = `rebind.example.test:${port}`;
    // Public for the policy's check, loopback at connection time.
    const policy = createPrivateAddressPolicy({ lookup: async () => [{ address: "93.184.216.34", family: 4 }] });
    const rebinding: LookupFunction = (_hostname, options, callback) =>
      (options as { all?: boolean }).all ? (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: "127.0.0.1", family: 4 }]) : callback(null, "127.0.0.1", 4);
    const lookup = createAddressCheckedLookup({ lookup: rebinding });
    const before = await proxy.connects();
    const error = await failure(
      client({ ...env(), DIGESTA_INSECURE_REGISTRIES: name }, { hostPolicy: policy, lookup }).headManifest({ registry: name, repository: "team/app" }, "1.0"),
    );
    expect(error.message).toContain("private address 127.0.0.1");
    expect((await proxy.connects()).slice(before.length).filter((t) => t.includes("rebind"))).toEqual([]);
  });

  it("names the address it checked in the CONNECT, so the proxy cannot be steered by a later DNS answer", async () => {
    const port = new URL(registry.url).port;
    const name = `pinned.example.test:${port}`;
    const lookup = createAddressCheckedLookup({
      allow: [name],
      lookup: (_hostname, options, callback) =>
        (options as { all?: boolean }).all ? (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: "127.0.0.1", family: 4 }]) : callback(null, "127.0.0.1", 4),
    });
    const before = (await proxy.connects()).length;
    const resolved = await client({ ...env(), DIGESTA_INSECURE_REGISTRIES: name }, { hostPolicy: createPrivateAddressPolicy({ allow: [name] }), lookup }).headManifest(
      { registry: name, repository: "team/app" },
      "1.0",
    );
    expect(resolved.digest).toBe(digest);
    expect(new Set((await proxy.connects()).slice(before))).toEqual(new Set([`127.0.0.1:${port}`]));
  });
});

describe("the app's registry sessions through a proxy", () => {
  // The app's own wiring (createSessionFactory: the private-address policy, the checked lookup), as server.ts and the
  // Action build it; the environment as the operator sets it.
  const session = (env: NodeJS.ProcessEnv, allow: readonly string[] = [registry.host]) =>
    createSessionFactory({ allowPrivateRegistries: allow, env, retries: 0, backoff: { baseMs: 1 }, credentials: staticCredentials({}) })();

  it("tunnels the app's registry requests through the proxy, to the address it checked", async () => {
    const before = (await proxy.connects()).length;
    const resolved = await session({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url }).registry.headManifest(image(registry), "1.0");
    expect(resolved.digest).toBe(digest);
    const tunnels = (await proxy.connects()).slice(before);
    expect(tunnels.length).toBeGreaterThan(0);
    expect(new Set(tunnels)).toEqual(new Set([registry.host]));
  });

  it("goes direct to a registry NO_PROXY names, and through the proxy to the others", async () => {
    const before = (await refusing.connects()).length;
    const env = { https_proxy: refusing.url, http_proxy: refusing.url, no_proxy: `example.com,${registry.host}` };
    expect((await session(env).registry.headManifest(image(registry), "1.0")).digest).toBe(digest);
    expect((await refusing.connects()).length).toBe(before);
    const error = await failure(session({ ...env, no_proxy: "example.com" }).registry.headManifest(image(registry), "1.0"));
    expect(error.message).toContain(`the proxy ${refusing.url} refused a tunnel to ${registry.host}`);
  });

  it("refuses a private registry the operator did not allow before asking the proxy for anything", async () => {
    const before = (await proxy.connects()).length;
    const error = await failure(session({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url }, []).registry.headManifest(image(registry), "1.0"));
    expect(error.code).toBe("FORBIDDEN_HOST");
    expect((await proxy.connects()).length).toBe(before);
  });
});

describe("GitHub traffic through the proxy", () => {
  let fake: GitHubFake;
  let api: { readonly url: string; close(): Promise<void> };
  beforeAll(async () => {
    fake = new GitHubFake();
    api = await fake.listen();
  });
  afterAll(async () => {
    await api?.close();
  });

  const octokit = (env: NodeJS.ProcessEnv) => new ProbotOctokit({ auth: { token: "ghs_proxytest" }, baseUrl: api.url, ...githubRequestOptions(env) });

  it("tunnels Octokit's requests through the proxy, its token inside the tunnel, and goes direct for NO_PROXY hosts", async () => {
    const port = Number(new URL(api.url).port);
    const tunnel = await startProxyServer({ connectPorts: [port] });
    try {
      const env = { HTTPS_PROXY: tunnel.url, HTTP_PROXY: tunnel.url };
      // The app's class (server.ts) and the CLI's and Action's options (one-shot.ts) go the same way.
      const AppOctokit = withGitHubProxy(undefined, env)!;
      await new AppOctokit({ auth: { token: "ghs_proxytest" }, baseUrl: api.url }).request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "proxied" }).catch(() => undefined);
      expect((await tunnel.connects()).length).toBe(1);
      await octokit(env).request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "proxied" }).catch(() => undefined);
      expect(await tunnel.connects()).toEqual([`127.0.0.1:${port}`, `127.0.0.1:${port}`]);
      expect(fake.requests.some((r) => r.path === "/repos/acme/proxied" && r.authorization?.includes("ghs_proxytest"))).toBe(true);
      await octokit({ ...env, NO_PROXY: "127.0.0.1" }).request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "direct" }).catch(() => undefined);
      expect(fake.requests.some((r) => r.path === "/repos/acme/direct")).toBe(true);
      expect(await tunnel.connects()).toHaveLength(2);
      expect(withGitHubProxy(undefined, {})).toBeUndefined();
      expect(githubRequestOptions({})).toEqual({});
    } finally {
      await tunnel.stop();
    }
  });
});
