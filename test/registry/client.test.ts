import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Digest } from "../../src/reference/types.js";
import { digestAt } from "../../src/registry/history.js";
import { MAX_MANIFEST_BYTES } from "../../src/registry/manifest.js";
import { MediaType } from "../../src/registry/types.js";
import { AMD64, APP, ARM64, HOST, ORIGIN, image, index, manifestHeaders, registryError, sha256, testClient } from "./fixtures.js";

beforeEach(() => {
  nock(ORIGIN).get("/v2/").reply(200, "{}");
});

afterEach(() => {
  const unused = nock.pendingMocks();
  nock.cleanAll();
  expect(unused).toEqual([]);
});

const amd = image(AMD64);
const arm = image(ARM64);
const multi = index([amd, arm]);

describe("manifests", () => {
  it("reads a tag's digest from HEAD alone when the registry sends Docker-Content-Digest", async () => {
    nock(ORIGIN).head("/v2/team/app/manifests/1.0").reply(200, "", manifestHeaders(multi, MediaType.OciIndex));
    const client = testClient();
    expect(await client.headManifest(APP, "1.0")).toEqual({ mediaType: MediaType.OciIndex, digest: multi.digest, size: multi.size });
    expect(client.stats().byKind.manifest).toBe(1);
  });

  it("falls back to GET when HEAD has no Docker-Content-Digest, and confirms the body's hash with the registry when GET has none either", async () => {
    nock(ORIGIN).head("/v2/team/app/manifests/1.0").reply(200, "", { "content-type": MediaType.OciIndex, "content-length": String(multi.size) });
    nock(ORIGIN).get("/v2/team/app/manifests/1.0").reply(200, multi.body, { "content-type": MediaType.OciIndex });
    nock(ORIGIN).get(`/v2/team/app/manifests/${multi.digest}`).reply(200, multi.body, { "content-type": MediaType.OciIndex });
    expect(await testClient().headManifest(APP, "1.0")).toEqual({ mediaType: MediaType.OciIndex, digest: multi.digest, size: multi.size });
  });

  it("falls back to GET when the registry refuses HEAD", async () => {
    nock(ORIGIN).head("/v2/team/app/manifests/1.0").reply(405);
    nock(ORIGIN).get("/v2/team/app/manifests/1.0").reply(200, amd.manifest.body, manifestHeaders(amd.manifest));
    await expect(testClient().headManifest(APP, "1.0")).resolves.toMatchObject({ digest: amd.manifest.digest, mediaType: MediaType.OciManifest });
  });

  it("explains a missing tag with the registry's words, read from a GET", async () => {
    nock(ORIGIN).head("/v2/team/app/manifests/nope").reply(404);
    nock(ORIGIN)
      .get("/v2/team/app/manifests/nope")
      .reply(404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: { Tag: "nope" } }] });
    const error = await registryError(testClient().headManifest(APP, "nope"));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toBe(
      `${HOST}/team/app:nope: manifest request failed with HTTP 404 (MANIFEST_UNKNOWN: manifest unknown); check that the tag exists`,
    );
  });

  it("verifies a manifest fetched by digest", async () => {
    nock(ORIGIN).get(`/v2/team/app/manifests/${amd.manifest.digest}`).times(3).reply(200, arm.manifest.body, { "content-type": MediaType.OciManifest });
    const error = await registryError(testClient().getManifest(APP, amd.manifest.digest));
    expect(error.code).toBe("DIGEST_MISMATCH");
    expect(error.message).toContain(arm.manifest.digest);
  });

  it("returns the parsed body, its media type from the body, and the bytes", async () => {
    nock(ORIGIN).get(`/v2/team/app/manifests/${multi.digest}`).reply(200, multi.body, { "content-type": "application/json" });
    const fetched = await testClient().getManifest(APP, multi.digest);
    expect(fetched).toMatchObject({ digest: multi.digest, mediaType: MediaType.OciIndex });
    expect(Buffer.from(fetched.bytes).toString()).toBe(multi.body);
    expect((fetched.json["manifests"] as unknown[]).length).toBe(2);
  });

  it("says BAD_RESPONSE, in one line, for an HTML page where a manifest should be (after asking again: a portal may have answered)", async () => {
    const page = "<!DOCTYPE html>\n<html><body><h1>Welcome to our portal</h1>\n</body></html>";
    nock(ORIGIN).get("/v2/team/app/manifests/1.0").times(3).reply(200, page, { "content-type": "text/html" });
    const error = await registryError(testClient().getManifest(APP, "1.0"));
    expect(error.code).toBe("BAD_RESPONSE");
    expect(error.message).toContain("HTML page");
    expect(error.message).not.toContain("Welcome");
  });

  it("asks for bytes as stored and refuses a compressed answer, whose digest would be of other bytes", async () => {
    nock(ORIGIN)
      .matchHeader("accept-encoding", "identity")
      .get("/v2/team/app/manifests/1.0")
      .reply(200, gzipSync(amd.manifest.body), { "content-type": MediaType.OciManifest, "content-encoding": "gzip" });
    const error = await registryError(testClient().getManifest(APP, "1.0"));
    expect(error.code).toBe("BAD_RESPONSE");
    expect(error.message).toContain("sent a compressed answer (Content-Encoding: gzip)");
  });

  it("describes an HTML error page by its status, not its markup", async () => {
    nock(ORIGIN).get("/v2/team/app/manifests/1.0").times(3).reply(502, "<html><body>Bad Gateway\n<script>x</script></body></html>", { "content-type": "text/html" });
    const error = await registryError(testClient().getManifest(APP, "1.0"));
    expect(error.code).toBe("SERVER_ERROR");
    expect(error.message).toContain("registry answered with an HTML page (status 502)");
    expect(error.message).not.toContain("script");
  });

  it("refuses a manifest larger than 4 MiB, whether or not its length is declared", async () => {
    const huge = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
    nock(ORIGIN).get("/v2/team/app/manifests/declared").reply(200, huge, { "content-length": String(huge.length) });
    nock(ORIGIN)
      .get("/v2/team/app/manifests/streamed")
      .reply(200, () => Readable.from([huge.subarray(0, 1024 * 1024), huge.subarray(1024 * 1024)]));
    const client = testClient();
    expect((await registryError(client.getManifest(APP, "declared"))).code).toBe("TOO_LARGE");
    const streamed = await registryError(client.getManifest(APP, "streamed"));
    expect(streamed.code).toBe("TOO_LARGE");
    expect(streamed.message).toContain("4 MiB");
  });

  it("refuses Docker schema 1 manifests", async () => {
    const schema1 = JSON.stringify({ schemaVersion: 1, name: "team/app", tag: "old", fsLayers: [] });
    nock(ORIGIN).get("/v2/team/app/manifests/old").reply(200, schema1, { "content-type": "application/vnd.docker.distribution.manifest.v1+prettyjws" });
    const error = await registryError(testClient().getManifest(APP, "old"));
    expect(error.code).toBe("BAD_RESPONSE");
    expect(error.message).toContain("schema 1");
  });

  it("refuses names and references that would change the URL, before any request", async () => {
    const client = testClient();
    for (const [name, ref] of [
      [APP, "../../etc"],
      [APP, "1.0?x=y"],
      [{ registry: HOST, repository: "team/../admin" }, "1.0"],
      [{ registry: "evil.test/x", repository: "team/app" }, "1.0"],
    ] as const) {
      expect((await registryError(client.headManifest(name, ref))).code).toBe("INVALID_REFERENCE");
    }
    expect(client.stats().requests).toBe(0);
    nock.cleanAll(); // the ping interceptor was never needed
  });
});

describe("blobs", () => {
  const layer = Buffer.from("a".repeat(100_000));
  const layerDigest = sha256(layer);

  it("reads a small blob and verifies it", async () => {
    nock(ORIGIN).get(`/v2/team/app/blobs/${amd.config.digest}`).reply(200, amd.config.body);
    nock(ORIGIN).get(`/v2/team/app/blobs/${arm.config.digest}`).times(3).reply(200, amd.config.body);
    const client = testClient();
    expect(Buffer.from(await client.getBlob(APP, amd.config.digest)).toString()).toBe(amd.config.body);
    expect((await registryError(client.getBlob(APP, arm.config.digest))).code).toBe("DIGEST_MISMATCH");
  });

  it("refuses a blob over the caller's limit", async () => {
    nock(ORIGIN).get(`/v2/team/app/blobs/${layerDigest}`).reply(200, layer);
    expect((await registryError(testClient().getBlob(APP, layerDigest, 1000))).code).toBe("TOO_LARGE");
  });

  it("streams a blob, verified at the end", async () => {
    nock(ORIGIN).get(`/v2/team/app/blobs/${layerDigest}`).reply(200, layer, { "content-length": String(layer.length) });
    const blob = await testClient().openBlob(APP, layerDigest);
    expect(blob.size).toBe(layer.length);
    const chunks: Buffer[] = [];
    for await (const chunk of blob.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(layer)).toBe(true);
  });

  it("ends a streamed blob with DIGEST_MISMATCH when its content is not what was asked for", async () => {
    const wrong = Buffer.from("b".repeat(1000));
    nock(ORIGIN).get(`/v2/team/app/blobs/${layerDigest}`).reply(200, wrong);
    const blob = await testClient().openBlob(APP, layerDigest);
    const consumed = (async () => {
      for await (const chunk of blob.stream) void chunk;
    })();
    const error = await registryError(consumed);
    expect(error.code).toBe("DIGEST_MISMATCH");
  });

  it("stops the transfer on abort, without an unhandled error", async () => {
    const chunk = new Uint8Array(64 * 1024).fill(1);
    let pulled = 0;
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    });
    // Endless body: only an abort can end it.
    const fakeFetch: typeof fetch = async (input) =>
      String(input).endsWith("/v2/") ? new Response("{}") : new Response(body, { status: 200 });
    const blob = await testClient({ fetch: fakeFetch }).openBlob(APP, layerDigest);
    const first = await new Promise<Buffer>((resolve) => blob.stream.once("data", resolve));
    expect(first.length).toBe(chunk.length);
    blob.stream.pause();
    blob.abort();
    await new Promise((resolve) => setImmediate(resolve));
    const pulledAtAbort = pulled;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(blob.stream.destroyed).toBe(true);
    expect(cancelled).toBe(true);
    expect(pulled).toBe(pulledAtAbort);
    nock.cleanAll(); // the fake fetch never used the ping interceptor
  });
});

describe("streamed blob stalls", () => {
  it("ends a stream that stops delivering bytes with TIMEOUT", async () => {
    let sent = false;
    const stalled = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) controller.enqueue(new Uint8Array(10));
        sent = true;
        return new Promise(() => {}); // and then nothing, ever
      },
    });
    const fakeFetch: typeof fetch = async (input) =>
      String(input).endsWith("/v2/") ? new Response("{}") : new Response(stalled, { status: 200 });
    const blob = await testClient({ fetch: fakeFetch, timeoutMs: 50 }).openBlob(APP, sha256("whatever"));
    const consumed = (async () => {
      for await (const chunk of blob.stream) void chunk;
    })();
    const error = await registryError(consumed);
    expect(error.code).toBe("TIMEOUT");
    nock.cleanAll();
  });
});

describe("referrers", () => {
  const sbom = { mediaType: MediaType.OciManifest, digest: sha256("sbom"), size: 10, artifactType: "application/spdx+json" };
  const sig = { mediaType: MediaType.OciManifest, digest: sha256("sig"), size: 10, artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json" };
  const referrersIndex = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [sbom, sig] });

  it("lists referrers through the OCI 1.1 API, filtered by artifact type", async () => {
    nock(ORIGIN)
      .get(`/v2/team/app/referrers/${amd.manifest.digest}`)
      .query({ artifactType: "application/spdx+json" })
      .reply(200, referrersIndex, { "content-type": MediaType.OciIndex });
    expect(await testClient().referrers(APP, amd.manifest.digest, "application/spdx+json")).toEqual([sbom]);
  });

  it("falls back to the sha256-<hex> tag when the registry has no referrers API", async () => {
    const hex = amd.manifest.digest.slice(7);
    nock(ORIGIN).get(`/v2/team/app/referrers/${amd.manifest.digest}`).reply(404, "404 page not found\n");
    nock(ORIGIN)
      .get(`/v2/team/app/manifests/sha256-${hex}`)
      .reply(200, referrersIndex, { "content-type": MediaType.OciIndex, "docker-content-digest": sha256(referrersIndex) });
    expect(await testClient().referrers(APP, amd.manifest.digest)).toEqual([sbom, sig]);
  });

  it("is empty when neither the API nor the tag exists", async () => {
    const hex = amd.manifest.digest.slice(7);
    nock(ORIGIN).get(`/v2/team/app/referrers/${amd.manifest.digest}`).reply(404);
    nock(ORIGIN).get(`/v2/team/app/manifests/sha256-${hex}`).reply(404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] });
    expect(await testClient().referrers(APP, amd.manifest.digest)).toEqual([]);
  });
});

describe("tag history", () => {
  const d = (n: number): Digest => sha256(String(n));

  it("returns Chainguard's history validated and sorted oldest first, with or without fractional seconds", async () => {
    nock(ORIGIN)
      .get("/v2/team/app/_chainguard/history/latest")
      .reply(200, {
        history: [
          { updateTimestamp: "2024-03-02T10:00:00Z", digest: d(3) },
          { updateTimestamp: "2024-03-01T10:00:00.123Z", digest: d(2) },
          { updateTimestamp: "2024-02-28T23:59:59.5+01:00", digest: d(1) },
        ],
      });
    const history = await testClient().tagHistory(APP, "latest");
    expect(history.map((e) => e.digest)).toEqual([d(1), d(2), d(3)]);
    expect(history[0]!.updateTimestamp.toISOString()).toBe("2024-02-28T22:59:59.500Z");
    expect(history[2]!.updateTimestamp.toISOString()).toBe("2024-03-02T10:00:00.000Z");

    expect(digestAt(history, new Date("2024-02-01T00:00:00Z"))).toBeUndefined();
    expect(digestAt(history, new Date("2024-03-01T10:00:00.123Z"))).toBe(d(2));
    expect(digestAt(history, new Date("2024-03-02T09:00:00Z"))).toBe(d(2));
    expect(digestAt(history, new Date("2030-01-01T00:00:00Z"))).toBe(d(3));
  });

  it("says NO_TAG_HISTORY where the registry keeps none", async () => {
    nock(ORIGIN).get("/v2/team/app/_chainguard/history/latest").reply(404, "404 page not found");
    const error = await registryError(testClient().tagHistory(APP, "latest"));
    expect(error.code).toBe("NO_TAG_HISTORY");
    expect(error.message).toContain(`registry ${HOST} keeps no tag history for team/app:latest`);
  });

  it("refuses a malformed history", async () => {
    nock(ORIGIN)
      .get("/v2/team/app/_chainguard/history/latest")
      .reply(200, { history: [{ updateTimestamp: "yesterday", digest: d(1) }] });
    expect((await registryError(testClient().tagHistory(APP, "latest"))).code).toBe("BAD_RESPONSE");
  });
});
