import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { staticCredentials } from "../../src/registry/credentials.js";
import { parseRetryAfter } from "../../src/registry/transport.js";
import { SchemePolicy } from "../../src/registry/endpoint.js";
import { AMD64, APP, HOST, ORIGIN, image, manifestHeaders, networkError, registryError, sha256, testClient } from "./fixtures.js";

afterEach(() => {
  const unused = nock.pendingMocks();
  nock.cleanAll();
  expect(unused).toEqual([]);
});

const img = image(AMD64);
const basicFor = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
const withCredentials = (host = HOST) => staticCredentials({ [host]: { kind: "basic", username: "ann", password: "s3cret" } });

describe("credentials stay with their registry", () => {
  it("drops Authorization on a blob redirect to another host", async () => {
    const layer = "layer bytes";
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": 'Basic realm="r"' });
    nock(ORIGIN)
      .matchHeader("authorization", basicFor("ann", "s3cret"))
      .get(`/v2/team/app/blobs/${sha256(layer)}`)
      .reply(307, "", { location: "https://cdn.example.test/blobs/abc?X-Amz-Signature=secret-ish" });
    nock("https://cdn.example.test", { badheaders: ["authorization"] })
      .get("/blobs/abc")
      .query(true)
      .reply(200, layer);

    const client = testClient({ credentials: withCredentials() });
    expect(Buffer.from(await client.getBlob(APP, sha256(layer))).toString()).toBe(layer);
    expect(client.stats().byKind.blob).toBe(2);
  });

  it("keeps Authorization on a redirect within the registry's origin", async () => {
    const layer = "same origin";
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": 'Basic realm="r"' });
    nock(ORIGIN).get(`/v2/team/app/blobs/${sha256(layer)}`).reply(302, "", { location: "/storage/xyz" });
    nock(ORIGIN).matchHeader("authorization", basicFor("ann", "s3cret")).get("/storage/xyz").reply(200, layer);
    const bytes = await testClient({ credentials: withCredentials() }).getBlob(APP, sha256(layer));
    expect(Buffer.from(bytes).toString()).toBe(layer);
  });

  it("sends no credentials to a token realm on plain HTTP, nor to an insecure registry over HTTP", async () => {
    const insecure = "insecure.example.test";
    nock(`https://${insecure}`).get("/v2/").replyWithError(networkError("ECONNREFUSED", "connect ECONNREFUSED"));
    nock(`http://${insecure}`).get("/v2/").reply(401, "", { "www-authenticate": `Bearer realm="http://${insecure}/token",service="${insecure}"` });
    nock(`http://${insecure}`, { badheaders: ["authorization"] }).get("/token").query(true).reply(200, { token: "anon" });
    nock(`http://${insecure}`).matchHeader("authorization", "Bearer anon").head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(img.manifest));

    const client = testClient({ credentials: withCredentials(insecure), insecureRegistries: [insecure] });
    await expect(client.headManifest({ registry: insecure, repository: "team/app" }, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
  });

  it("does not answer a Basic challenge over plain HTTP to a non-loopback host", async () => {
    const insecure = "insecure.example.test:5000";
    nock(`https://${insecure}`).get("/v2/").replyWithError(networkError("ECONNREFUSED", "connect ECONNREFUSED"));
    nock(`http://${insecure}`).get("/v2/").reply(401, "", { "www-authenticate": 'Basic realm="r"' });
    nock(`http://${insecure}`, { badheaders: ["authorization"] })
      .get("/v2/team/app/manifests/1.0")
      .reply(401, { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] });
    const client = testClient({ credentials: withCredentials(insecure), insecureRegistries: ["insecure.example.test"] });
    expect((await registryError(client.getManifest({ registry: insecure, repository: "team/app" }, "1.0"))).code).toBe("UNAUTHORIZED");
  });

  it("speaks plain HTTP to loopback first, credentials included", async () => {
    const loopback = "127.0.0.1:5999";
    nock(`http://${loopback}`).get("/v2/").reply(401, "", { "www-authenticate": 'Basic realm="r"' });
    nock(`http://${loopback}`).matchHeader("authorization", basicFor("ann", "s3cret")).head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(img.manifest));
    const client = testClient({ credentials: withCredentials(loopback) });
    await expect(client.headManifest({ registry: loopback, repository: "team/app" }, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
    expect(client.stats().byKind).toMatchObject({ ping: 1, manifest: 1 });
  });
});

describe("loopback registries: plain HTTP first, HTTPS when the port speaks TLS", () => {
  const loopback = "localhost:5998";
  const name = { registry: loopback, repository: "team/app" };

  it("moves to HTTPS, credentials and all, when plain HTTP breaks the connection (a TLS server hanging up)", async () => {
    nock(`http://${loopback}`).get("/v2/").replyWithError(networkError("ECONNRESET", "socket hang up"));
    nock(`https://${loopback}`).get("/v2/").reply(401, "", { "www-authenticate": 'Basic realm="r"' });
    nock(`https://${loopback}`).matchHeader("authorization", basicFor("ann", "s3cret")).head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(img.manifest));
    const client = testClient({ credentials: withCredentials(loopback) });
    await expect(client.headManifest(name, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
    expect(client.stats().retries).toBe(0);
  });

  it("moves to HTTPS when plain HTTP is answered 400 (Go's and nginx's TLS servers), and sends nothing more over HTTP", async () => {
    nock(`http://${loopback}`).get("/v2/").reply(400, "Client sent an HTTP request to an HTTPS server.\n");
    nock(`https://${loopback}`).get("/v2/").reply(200, "{}");
    nock(`https://${loopback}`).head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(img.manifest));
    await expect(testClient().headManifest(name, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
  });

  it("moves to HTTPS when plain HTTP redirects there, and takes the challenge from HTTPS", async () => {
    const bare = "localhost";
    nock(`http://${bare}`).get("/v2/").reply(301, "", { location: `https://${bare}/v2/` });
    nock(`https://${bare}`).get("/v2/").reply(401, "", { "www-authenticate": 'Basic realm="r"' });
    nock(`https://${bare}`).get("/v2/").reply(401, "", { "www-authenticate": 'Basic realm="r"' });
    nock(`https://${bare}`).matchHeader("authorization", basicFor("ann", "s3cret")).head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(img.manifest));
    const client = testClient({ credentials: withCredentials(bare) });
    await expect(client.headManifest({ registry: bare, repository: "team/app" }, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
  });

  it("stays on plain HTTP when it answered 400 and nothing speaks HTTPS there", async () => {
    nock(`http://${loopback}`).get("/v2/").reply(400, "no");
    nock(`https://${loopback}`).get("/v2/").replyWithError(networkError("EPROTO", "wrong version number"));
    nock(`http://${loopback}`).head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(img.manifest));
    await expect(testClient().headManifest(name, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
  });

  it("keeps HTTPS first for an insecure registry that is not loopback", async () => {
    const insecure = "10.0.0.7:5000";
    nock(`https://${insecure}`).get("/v2/").reply(200, "{}");
    nock(`https://${insecure}`).head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(img.manifest));
    const client = testClient({ insecureRegistries: [insecure] });
    await expect(client.headManifest({ registry: insecure, repository: "team/app" }, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
    expect(client.stats().byKind.ping).toBe(1);
  });

  it("prefers plain HTTP only for loopback with no proxy between", () => {
    const direct = new SchemePolicy(["10.0.0.7:5000"]);
    expect(["http://127.0.0.1:5000", "http://localhost:5000", "http://[::1]:5000", "http://127.8.9.10"].map((url) => direct.prefersHttp(new URL(url)))).toEqual([true, true, true, true]);
    expect(direct.prefersHttp(new URL("http://10.0.0.7:5000"))).toBe(false);
    expect(direct.prefersHttp(new URL("https://127.0.0.1:5000"))).toBe(false);
    expect(new SchemePolicy([], () => true).prefersHttp(new URL("http://127.0.0.1:5000"))).toBe(false);
  });

  it("says why when neither scheme answers", async () => {
    nock(`http://${loopback}`).get("/v2/").replyWithError(networkError("ECONNREFUSED", "connect ECONNREFUSED"));
    nock(`https://${loopback}`).get("/v2/").replyWithError(networkError("ECONNREFUSED", "connect ECONNREFUSED"));
    const error = await registryError(testClient({ retries: 0 }).headManifest(name, "1.0"));
    expect(error.code).toBe("NETWORK");
    expect(error.message).toContain("ECONNREFUSED");
  });
});

describe("plain HTTP", () => {
  it("refuses a redirect to plain HTTP on a host not listed as insecure", async () => {
    const layer = "x";
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).get(`/v2/team/app/blobs/${sha256(layer)}`).reply(302, "", { location: "http://cdn.example.test/blob" });
    const error = await registryError(testClient().getBlob(APP, sha256(layer)));
    expect(error.code).toBe("INSECURE");
    expect(error.message).toContain("cdn.example.test");
    expect(error.message).toContain("insecure registry");
  });

  it("refuses a token realm on plain HTTP for an HTTPS registry", async () => {
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": 'Bearer realm="http://auth.example.test/token"' });
    expect((await registryError(testClient().headManifest(APP, "1.0"))).code).toBe("INSECURE");
  });

  it("never tries plain HTTP for a registry that is neither loopback nor insecure", async () => {
    nock(ORIGIN).get("/v2/").replyWithError(networkError("ECONNREFUSED", "connect ECONNREFUSED"));
    const error = await registryError(testClient({ retries: 0 }).headManifest(APP, "1.0"));
    expect(error.code).toBe("NETWORK");
    expect(error.message).toContain(HOST);
    expect(error.message).toContain("ECONNREFUSED");
  });
});

describe("retries", () => {
  it("waits as Retry-After says after a 429, then succeeds", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).head("/v2/team/app/manifests/1.0").reply(429, "", { "retry-after": "1" });
    nock(ORIGIN).head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(img.manifest));
    const client = testClient();
    await expect(client.headManifest(APP, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
    expect(client.stats()).toMatchObject({ retries: 1, byKind: { manifest: 2 } });
  });

  it("retries 5xx, then fails with the registry's own message", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN)
      .get("/v2/team/app/manifests/1.0")
      .times(3)
      .reply(503, { errors: [{ code: "UNAVAILABLE", message: "storage backend is down" }] }, { "content-type": "application/json" });
    const client = testClient({ retries: 2 });
    const error = await registryError(client.getManifest(APP, "1.0"));
    expect(error.code).toBe("SERVER_ERROR");
    expect(error.status).toBe(503);
    expect(error.message).toContain("storage backend is down");
    expect(error.message).toContain(`${HOST}/team/app:1.0`);
    expect(client.stats().retries).toBe(2);
  });

  it("retries a dropped connection", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).head("/v2/team/app/manifests/1.0").replyWithError(networkError("ECONNRESET", "socket hang up"));
    nock(ORIGIN).head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(img.manifest));
    await expect(testClient().headManifest(APP, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
  });

  it("remembers a registry that cannot be reached for a minute, then tries again", async () => {
    let now = 0;
    nock(ORIGIN).get("/v2/").replyWithError(networkError("ECONNREFUSED", "connect ECONNREFUSED"));
    const client = testClient({ retries: 0, now: () => now });
    expect((await registryError(client.headManifest(APP, "1.0"))).code).toBe("NETWORK");
    expect((await registryError(client.headManifest(APP, "2.0"))).code).toBe("NETWORK");
    expect(client.stats().requests).toBe(1);

    now += 61_000;
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(img.manifest));
    await expect(client.headManifest(APP, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2024-01-01T00:00:00Z");
    expect(parseRetryAfter("7", now)).toBe(7000);
    expect(parseRetryAfter("Mon, 01 Jan 2024 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Sun, 31 Dec 2023 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe("timeouts and limits", () => {
  it("gives up on a registry that does not answer in time", async () => {
    // The ping may itself time out on a loaded machine, and be asked again.
    nock(ORIGIN).get("/v2/").times(3).optionally().reply(200, "{}");
    nock(ORIGIN).get("/v2/team/app/manifests/1.0").times(3).delay(2_000).reply(200, img.manifest.body);
    const error = await registryError(testClient({ timeoutMs: 300 }).getManifest(APP, "1.0"));
    expect(error.code).toBe("TIMEOUT");
    expect(error.message).toContain(HOST);
  });

  it("keeps at most maxConcurrentPerRegistry requests in flight to one registry", async () => {
    let inFlight = 0;
    let highest = 0;
    const fakeFetch: typeof fetch = async (input) => {
      inFlight++;
      highest = Math.max(highest, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      const url = String(input);
      if (url.endsWith("/v2/")) return new Response("{}", { status: 200 });
      return new Response(null, { status: 200, headers: manifestHeaders(img.manifest) });
    };
    const client = testClient({ fetch: fakeFetch, maxConcurrentPerRegistry: 2 });
    await Promise.all(Array.from({ length: 8 }, (_, i) => client.headManifest(APP, `t${i}`)));
    expect(highest).toBe(2);
    expect(client.stats().byKind.manifest).toBe(8);
  });

  it("gives the slot back after an error answer with an empty body, so the next request to that registry goes out", async () => {
    const fakeFetch: typeof fetch = async (input) => {
      const url = String(input);
      if (url.endsWith("/v2/")) return new Response("{}", { status: 200 });
      if (url.includes("/manifests/gone")) return new Response(null, { status: 403, headers: { "content-length": "0" } });
      return new Response(null, { status: 200, headers: manifestHeaders(img.manifest) });
    };
    // One request in flight at a time: an answer that kept its slot would stop every later request to the registry.
    const client = testClient({ fetch: fakeFetch, maxConcurrentPerRegistry: 1 });
    expect((await registryError(client.headManifest(APP, "gone"))).code).toBe("DENIED");
    expect((await client.headManifest(APP, "1.0")).digest).toBe(img.manifest.digest);
  });

  it("lets the host policy refuse a redirect target", async () => {
    const layer = "y";
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).get(`/v2/team/app/blobs/${sha256(layer)}`).reply(307, "", { location: "https://internal.example.test/blob" });
    const seen: string[] = [];
    const client = testClient({
      hostPolicy: async (host) => {
        seen.push(host);
        if (host.startsWith("internal.")) throw new Error("private network");
      },
    });
    const error = await registryError(client.getBlob(APP, sha256(layer)));
    expect(error.code).toBe("FORBIDDEN_HOST");
    expect(error.message).toContain("internal.example.test");
    expect(seen).toEqual([HOST, "internal.example.test"]);
  });
});
