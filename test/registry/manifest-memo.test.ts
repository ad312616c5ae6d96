import { describe, expect, it } from "vitest";
import type { Digest, ImageName } from "../../src/reference/types.js";
import { RegistryError } from "../../src/registry/errors.js";
import { memoizeManifests } from "../../src/registry/manifest-memo.js";
import { sha256Digest } from "../../src/registry/manifest.js";
import { MediaType, type Descriptor, type FetchedManifest, type Registry } from "../../src/registry/types.js";

const name: ImageName = { registry: "registry.test", repository: "acme/app" };

function manifest(json: Record<string, unknown>, mediaType: string): FetchedManifest {
  const bytes = new TextEncoder().encode(JSON.stringify(json));
  return { digest: sha256Digest(bytes), mediaType, bytes, json };
}

const image = manifest({ schemaVersion: 2, config: { digest: "sha256:" + "c".repeat(64) }, layers: [] }, MediaType.OciManifest);
const index = manifest({ schemaVersion: 2, manifests: [] }, MediaType.OciIndex);
const missing = `sha256:${"0".repeat(64)}` as Digest;

/** A registry answering from a table, counting every call, failing `flaky` once with a server error. */
function fakeRegistry(flaky?: Digest) {
  const byReference = new Map<string, FetchedManifest>([
    [image.digest, image],
    [index.digest, index],
    ["1", index],
  ]);
  const calls: string[] = [];
  let failed = false;
  const find = (reference: string) => {
    if (reference === flaky && !failed) {
      failed = true;
      throw new RegistryError("SERVER_ERROR", "registry.test: 503", 503);
    }
    const found = byReference.get(reference);
    if (!found) throw new RegistryError("NOT_FOUND", `registry.test/acme/app@${reference}: not found`, 404);
    return found;
  };
  const registry: Registry = {
    async getManifest(_name, reference) {
      calls.push(`GET ${reference}`);
      return find(reference);
    },
    async headManifest(_name, reference): Promise<Descriptor> {
      calls.push(`HEAD ${reference}`);
      const found = find(reference);
      return { mediaType: found.mediaType, digest: found.digest, size: found.bytes.byteLength };
    },
    getBlob: () => Promise.reject(new Error("no blobs")),
    openBlob: () => Promise.reject(new Error("no blobs")),
    async referrers(_name, digest, artifactType) {
      calls.push(`REFERRERS ${digest}${artifactType ? ` ${artifactType}` : ""}`);
      return [
        { mediaType: MediaType.OciManifest, digest: image.digest, size: 1, artifactType: "application/spdx+json" },
        { mediaType: MediaType.OciManifest, digest: index.digest, size: 1, artifactType: "application/vnd.dev.sigstore.bundle.v0.3+json" },
      ];
    },
    tagHistory: () => Promise.reject(new RegistryError("NO_TAG_HISTORY", "none")),
  };
  return { registry, calls };
}

describe("memoizeManifests", () => {
  it("reads each manifest once, a tag's kept under its digest, whoever asks and however often", async () => {
    const { registry, calls } = fakeRegistry();
    const memo = memoizeManifests(registry);
    expect(memoizeManifests(memo)).toBe(memo);
    await Promise.all([memo.getManifest(name, "1"), memo.getManifest(name, "1"), memo.getManifest(name, image.digest), memo.getManifest(name, image.digest)]);
    expect((await memo.getManifest(name, index.digest)).digest).toBe(index.digest);
    expect((await memo.headManifest(name, image.digest)).digest).toBe(image.digest);
    expect(calls.sort()).toEqual([`GET 1`, `GET ${image.digest}`].sort());
  });

  it("confirms a digest the run read for free, else by one HEAD, or by the GET a later reader then reuses", async () => {
    const { registry, calls } = fakeRegistry();
    const memo = memoizeManifests(registry);
    await memo.getManifest(name, "1");
    await memo.confirm(name, index.digest, "index");
    expect(calls).toEqual(["GET 1"]);

    await Promise.all([memo.confirm(name, image.digest, "manifest"), memo.confirm(name, image.digest, "manifest")]);
    expect(calls).toEqual(["GET 1", `HEAD ${image.digest}`]);

    const counted = fakeRegistry();
    const reading = memoizeManifests(counted.registry);
    await reading.confirm(name, image.digest, "manifest", { read: true });
    await reading.getManifest(name, image.digest);
    expect(counted.calls).toEqual([`GET ${image.digest}`]);
  });

  it("refuses a digest the registry does not have (NOT_FOUND, kept) or holds as the other kind", async () => {
    const { registry, calls } = fakeRegistry();
    const memo = memoizeManifests(registry);
    await expect(memo.confirm(name, missing, "manifest")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(memo.confirm(name, missing, "manifest")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(memo.getManifest(name, missing)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(calls.filter((c) => c.includes(missing))).toEqual([`HEAD ${missing}`, `GET ${missing}`]);
    // A platform pin never moves to an index, nor an index pin to one image.
    await expect(memo.confirm(name, index.digest, "manifest")).rejects.toThrow(/not as an image manifest/);
    await expect(memo.confirm(name, image.digest, "index", { read: true })).rejects.toThrow(/not as an image index/);
  });

  it("forgets a failure other than NOT_FOUND, so a later asker tries again", async () => {
    const { registry, calls } = fakeRegistry(image.digest);
    const memo = memoizeManifests(registry);
    await expect(memo.confirm(name, image.digest, "manifest")).rejects.toMatchObject({ code: "SERVER_ERROR" });
    await expect(memo.confirm(name, image.digest, "manifest")).resolves.toBeUndefined();
    expect(calls).toEqual([`HEAD ${image.digest}`, `HEAD ${image.digest}`]);
  });

  it("lists a digest's referrers once, filtered for each asker's artifact type", async () => {
    const { registry, calls } = fakeRegistry();
    const memo = memoizeManifests(registry);
    const [spdx, bundles, all] = await Promise.all([
      memo.referrers(name, image.digest, "application/spdx+json"),
      memo.referrers(name, image.digest, "application/vnd.dev.sigstore.bundle.v0.3+json"),
      memo.referrers(name, image.digest),
    ]);
    expect(spdx.map((d) => d.digest)).toEqual([image.digest]);
    expect(bundles.map((d) => d.digest)).toEqual([index.digest]);
    expect(all).toHaveLength(2);
    expect(calls).toEqual([`REFERRERS ${image.digest}`]);
  });
});
