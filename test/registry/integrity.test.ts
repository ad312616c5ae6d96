// What a hostile or broken network may do to a registry answer, and what the client makes of it: a tag resolves only
// to the digest the registry states and the bytes confirm; credentials and challenges stay with the registry's
// origin; messages never carry URL credentials; retries and one deadline bound every operation.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import type { PinnedReference } from "../../src/reference/types.js";
import { staticCredentials } from "../../src/registry/credentials.js";
import { createPinFollower } from "../../src/registry/follow.js";
import { resolveTags } from "../../src/engine/pin.js";
import { MediaType } from "../../src/registry/types.js";
import { AMD64, APP, ARM64, HOST, ORIGIN, image, index, manifestHeaders, registryError, sha256, testClient } from "./fixtures.js";

afterEach(() => {
  const unused = nock.pendingMocks();
  nock.cleanAll();
  expect(unused).toEqual([]);
});

const amd = image(AMD64);
const arm = image(ARM64);
const multi = index([amd, arm]);
const TAG = "/v2/team/app/manifests/1.0";

describe("a tag resolves to the digest the registry states, checked against the bytes", () => {
  // Still valid JSON, one byte shorter: what a proxy that drops a final newline, or a mirror that re-serialises, sends.
  const altered = multi.body.replace(/}$/, " }");

  it("refuses a body that does not hash to Docker-Content-Digest, asks again, and takes the intact answer", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).get(TAG).reply(200, altered, { ...manifestHeaders(multi, MediaType.OciIndex), "content-length": String(altered.length) });
    nock(ORIGIN).get(TAG).reply(200, multi.body, manifestHeaders(multi, MediaType.OciIndex));
    const client = testClient();
    expect((await client.getManifest(APP, "1.0")).digest).toBe(multi.digest);
    expect(client.stats().retries).toBe(1);
  });

  it("fails with DIGEST_MISMATCH, naming both digests, when the registry never agrees with its bytes", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN)
      .get(TAG)
      .times(3)
      .reply(200, altered, { ...manifestHeaders(multi, MediaType.OciIndex), "content-length": String(altered.length) });
    const error = await registryError(testClient().getManifest(APP, "1.0"));
    expect(error.code).toBe("DIGEST_MISMATCH");
    expect(error.message).toContain(multi.digest);
    expect(error.message).toContain(sha256(altered));
  });

  it("refuses a body shorter or longer than its Content-Length, trying again each time", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    const truncated = multi.body.slice(0, -1);
    nock(ORIGIN).get(TAG).reply(200, truncated, { ...manifestHeaders(multi, MediaType.OciIndex), "content-length": String(multi.size) });
    nock(ORIGIN).get(TAG).reply(200, `${multi.body}{"extra":true}`, { ...manifestHeaders(multi, MediaType.OciIndex), "content-length": String(multi.size) });
    nock(ORIGIN).get(TAG).reply(200, truncated, { ...manifestHeaders(multi, MediaType.OciIndex), "content-length": String(multi.size) });
    const error = await registryError(testClient().getManifest(APP, "1.0"));
    // node:http ends a body that stops short of its Content-Length as a connection that broke ("aborted"), and one
    // that runs past it as a parse error on the connection; each attempt is refused (all three answers were used).
    expect(error.code).toBe("NETWORK");
    expect(error.message).toContain("broke while reading");
  });

  it("without Docker-Content-Digest, confirms the body's hash with the registry: an altered body's digest is not there", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).get(TAG).times(3).reply(200, altered, { "content-type": MediaType.OciIndex });
    nock(ORIGIN)
      .get(`/v2/team/app/manifests/${sha256(altered)}`)
      .times(3)
      .reply(404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] });
    const error = await registryError(testClient().getManifest(APP, "1.0"));
    expect(error.code).toBe("DIGEST_MISMATCH");
    expect(error.message).toContain("stated no digest");
  });

  it("never moves a pin to a digest a HEAD only claimed: it is read and verified first", async () => {
    const forged = sha256("nothing the registry has");
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    // The pin names an index and the tag now names a single manifest: nothing else would ever fetch the new digest.
    nock(ORIGIN).head(TAG).reply(200, "", { ...manifestHeaders(amd.manifest), "docker-content-digest": forged });
    nock(ORIGIN).get(`/v2/team/app/manifests/${multi.digest}`).reply(200, multi.body, manifestHeaders(multi, MediaType.OciIndex));
    nock(ORIGIN).get(`/v2/team/app/manifests/${forged}`).reply(404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] });
    const pin: PinnedReference = { ...APP, tag: "1.0", digest: multi.digest };
    const follower = createPinFollower(testClient(), { headFirst: () => true });
    const error = await registryError(follower.follow(pin));
    expect(error.code).toBe("NOT_FOUND");
  });

  it("never pins a tag to a digest a HEAD only claimed: `pin` writes the digest of the bytes it read", async () => {
    const forged = sha256("nothing the registry has");
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    // A HEAD would be believed; none may be asked (optionally: the test fails on the written digest, not on a mock).
    nock(ORIGIN).head(TAG).optionally().reply(200, "", { ...manifestHeaders(multi, MediaType.OciIndex), "docker-content-digest": forged });
    nock(ORIGIN).get(TAG).reply(200, altered, { ...manifestHeaders(multi, MediaType.OciIndex), "content-length": String(altered.length) });
    nock(ORIGIN).get(TAG).reply(200, multi.body, manifestHeaders(multi, MediaType.OciIndex));
    const occurrence = { path: "k8s.yaml", line: 1, column: 8, offset: 7, text: `${HOST}/team/app:1.0`, syntax: "yaml-image", reference: { ...APP, tag: "1.0" } } as const;
    const resolutions = await resolveTags([occurrence], testClient());
    expect([...resolutions.values()]).toEqual([{ ok: true, digest: multi.digest, kind: "index" }]);
  });
});

describe("challenges and credentials stay with the registry's origin", () => {
  const basic = `Basic ${Buffer.from("ann:s3cret").toString("base64")}`;
  const credentials = staticCredentials({ [HOST]: { kind: "basic", username: "ann", password: "s3cret" } });

  it("does not adopt the challenge of a host a redirect led to, nor send it credentials or tokens", async () => {
    const layer = "layer";
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": 'Basic realm="registry"' });
    nock(ORIGIN).matchHeader("authorization", basic).get(`/v2/team/app/blobs/${sha256(layer)}`).reply(307, "", { location: "https://cdn.example.test/b" });
    nock("https://cdn.example.test", { badheaders: ["authorization"] })
      .get("/b")
      .reply(401, "", { "www-authenticate": 'Bearer realm="https://cdn.example.test/token",service="cdn"' });
    // Were the challenge adopted, the Docker-config credentials would go here.
    const stolen = nock("https://cdn.example.test").get("/token").query(true).reply(200, { token: "t0ken-for-cdn" });
    const error = await registryError(testClient({ credentials, retries: 0 }).getBlob(APP, sha256(layer)));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(stolen.isDone()).toBe(false);
    nock.cleanAll();
  });

  it("takes no challenge from a ping that was redirected to another host", async () => {
    nock(ORIGIN).get("/v2/").reply(307, "", { location: "https://elsewhere.example.test/v2/" });
    nock("https://elsewhere.example.test").get("/v2/").reply(401, "", { "www-authenticate": 'Bearer realm="https://elsewhere.example.test/token"' });
    const stolen = nock("https://elsewhere.example.test").get("/token").query(true).reply(200, { token: "t0ken-elsewhere" });
    nock(ORIGIN, { badheaders: ["authorization"] }).head(TAG).reply(200, "", manifestHeaders(amd.manifest));
    await expect(testClient({ credentials }).headManifest(APP, "1.0")).resolves.toMatchObject({ digest: amd.manifest.digest });
    expect(stolen.isDone()).toBe(false);
    nock.cleanAll();
  });
});

describe("messages never carry URL credentials, and name a refused scheme", () => {
  it("refuses a redirect whose address carries userinfo, without printing it", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).get(`/v2/team/app/blobs/${sha256("x")}`).reply(302, "", { location: "https://mallory:hunter2@cdn.example.test/blob" });
    const error = await registryError(testClient().getBlob(APP, sha256("x")));
    expect(error.code).toBe("BAD_RESPONSE");
    expect(error.message).not.toContain("hunter2");
    expect(error.message).not.toContain("mallory");
    expect(error.message).toContain("cdn.example.test");
  });

  it.each(["file:///etc/passwd", "data:text/plain,hello"])("names the scheme of a refused redirect to %s", async (location) => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).get(`/v2/team/app/blobs/${sha256("x")}`).reply(302, "", { location });
    const error = await registryError(testClient().getBlob(APP, sha256("x")));
    expect(error.message).toContain(`a ${location.slice(0, location.indexOf(":") + 1)} address`);
  });

  it("redacts userinfo in any message, whoever built it", async () => {
    const failing: typeof fetch = async () => {
      throw new TypeError("Request cannot be constructed from a URL that includes credentials: https://ann:s3cret@registry.example.test/v2/");
    };
    const error = await registryError(testClient({ fetch: failing, retries: 0 }).headManifest(APP, "1.0"));
    expect(error.message).not.toContain("s3cret");
    expect(error.message).toContain("https://[redacted]@registry.example.test");
  });
});

/** A fetch whose answers are scripted per call: a Response, an error, or a Response whose body breaks after some bytes. */
function scriptedFetch(script: ((url: string) => Promise<Response> | Response)[]): typeof fetch & { readonly calls: string[] } {
  const calls: string[] = [];
  const fake = (async (input: string | URL | Request) => {
    const url = String(input);
    calls.push(url);
    const step = script.shift();
    if (!step) throw new Error(`unexpected request ${url}`);
    return step(url);
  }) as typeof fetch & { calls: string[] };
  fake.calls = calls;
  return fake;
}

function breakingBody(bytes: string, after: number): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) {
        controller.error(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
        return;
      }
      sent = true;
      controller.enqueue(Buffer.from(bytes.slice(0, after)));
    },
  });
}

const stall = (signalled: { signal?: AbortSignal | null }): Promise<Response> =>
  new Promise((_, reject) => signalled.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));

describe("retries within one deadline", () => {
  it("retries a connection reset in the middle of a manifest body", async () => {
    const fake = scriptedFetch([
      () => new Response("{}"),
      () => new Response(breakingBody(multi.body, 20), { status: 200, headers: manifestHeaders(multi, MediaType.OciIndex) }),
      () => new Response(multi.body, { status: 200, headers: manifestHeaders(multi, MediaType.OciIndex) }),
    ]);
    const client = testClient({ fetch: fake });
    expect((await client.getManifest(APP, "1.0")).digest).toBe(multi.digest);
    expect(client.stats().retries).toBe(1);
  });

  it("retries a reset in the middle of a small blob", async () => {
    const fake = scriptedFetch([
      () => new Response("{}"),
      () => new Response(breakingBody(amd.config.body, 5), { status: 200 }),
      () => new Response(amd.config.body, { status: 200 }),
    ]);
    expect(Buffer.from(await testClient({ fetch: fake }).getBlob(APP, amd.config.digest)).toString()).toBe(amd.config.body);
  });

  it("retries a ping that stalled", async () => {
    let pings = 0;
    const fake = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      if (url.endsWith("/v2/") && pings++ === 0) return stall(init ?? {});
      if (url.endsWith("/v2/")) return new Response("{}");
      return new Response(null, { status: 200, headers: manifestHeaders(amd.manifest) });
    }) as typeof fetch;
    await expect(testClient({ fetch: fake, timeoutMs: 50 }).headManifest(APP, "1.0")).resolves.toMatchObject({ digest: amd.manifest.digest });
    expect(pings).toBe(2);
  });

  it("fails at once, with the registry's reason, when Retry-After reaches past the deadline", async () => {
    nock(ORIGIN).get("/v2/").reply(200, "{}");
    nock(ORIGIN).get(TAG).reply(429, { errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] }, { "retry-after": "30" });
    const started = performance.now();
    const error = await registryError(testClient({ deadlineMs: 1_000, backoff: { retryAfterCapMs: 60_000 } }).getManifest(APP, "1.0"));
    expect(error.code).toBe("TOO_MANY_REQUESTS");
    expect(error.message).toContain("slow down");
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe("one deadline for everything an operation does", () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  /** A loopback registry whose blobs and manifests trickle out one byte every 20 ms: never idle, never done. */
  async function trickling(): Promise<string> {
    server = createServer((request, response) => {
      if (request.url === "/v2/") return void response.writeHead(200).end("{}");
      response.writeHead(200, { "content-length": "100000", "docker-content-digest": multi.digest, "content-type": MediaType.OciIndex });
      const timer = setInterval(() => response.write("{"), 20);
      response.on("close", () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it("ends a streamed layer that trickles forever with DEADLINE", async () => {
    const host = await trickling();
    const client = testClient({ timeoutMs: 1_000, deadlineMs: 400 });
    const blob = await client.openBlob({ registry: host, repository: "team/app" }, sha256("layer"));
    const started = performance.now();
    const error = await registryError(
      (async () => {
        for await (const chunk of blob.stream) void chunk;
      })(),
    );
    expect(error.code).toBe("DEADLINE");
    expect(error.message).toContain("deadline");
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("ends a manifest that trickles forever with DEADLINE, retries included", async () => {
    const host = await trickling();
    const started = performance.now();
    const error = await registryError(testClient({ timeoutMs: 5_000, deadlineMs: 500 }).getManifest({ registry: host, repository: "team/app" }, "1.0"));
    expect(error.code).toBe("DEADLINE");
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
