import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import type { Digest, ImageName, PinnedReference } from "../../src/reference/types.js";
import { RegistryError } from "../../src/registry/errors.js";
import { createPinFollower, VanishedPinError } from "../../src/registry/follow.js";
import { type BlobStream, type Descriptor, type FetchedManifest, MediaType, type Registry, type TagHistoryEntry } from "../../src/registry/types.js";
import { AMD64, APP, ARM64, ARMV7, HOST, ORIGIN, image, index, manifestHeaders, registryError, testClient, type Blob, type Image } from "./fixtures.js";

/** An in-memory registry for one repository that counts every call. */
class FakeRegistry implements Registry {
  readonly tags = new Map<string, Digest>();
  readonly manifests = new Map<Digest, { body: string; mediaType: string }>();
  readonly blobs = new Map<Digest, string>();
  readonly calls = { headManifest: 0, getManifest: 0, getBlob: 0 };
  readonly fetched: string[] = [];

  putImage(img: Image): this {
    this.manifests.set(img.manifest.digest, { body: img.manifest.body, mediaType: MediaType.OciManifest });
    this.blobs.set(img.config.digest, img.config.body);
    return this;
  }

  putIndex(idx: Blob, images: readonly Image[]): this {
    for (const img of images) this.putImage(img);
    this.manifests.set(idx.digest, { body: idx.body, mediaType: MediaType.OciIndex });
    return this;
  }

  tag(tag: string, digest: Digest): this {
    this.tags.set(tag, digest);
    return this;
  }

  private lookup(reference: string): { digest: Digest; body: string; mediaType: string } {
    const digest = (this.tags.get(reference) ?? reference) as Digest;
    const found = this.manifests.get(digest);
    if (!found) throw new RegistryError("NOT_FOUND", `${reference}: manifest unknown`, 404);
    return { digest, ...found };
  }

  async headManifest(_name: ImageName, reference: string): Promise<Descriptor> {
    this.calls.headManifest++;
    const { digest, body, mediaType } = this.lookup(reference);
    return { digest, mediaType, size: Buffer.byteLength(body) };
  }

  async getManifest(_name: ImageName, reference: string): Promise<FetchedManifest> {
    this.calls.getManifest++;
    this.fetched.push(reference);
    const { digest, body, mediaType } = this.lookup(reference);
    return { digest, mediaType, bytes: Buffer.from(body), json: JSON.parse(body) as Record<string, unknown> };
  }

  async getBlob(_name: ImageName, digest: Digest): Promise<Uint8Array> {
    this.calls.getBlob++;
    const body = this.blobs.get(digest);
    if (body === undefined) throw new RegistryError("NOT_FOUND", `${digest}: blob unknown`, 404);
    return Buffer.from(body);
  }

  openBlob(): Promise<BlobStream> {
    throw new Error("not used");
  }
  referrers(): Promise<Descriptor[]> {
    throw new Error("not used");
  }
  tagHistory(): Promise<TagHistoryEntry[]> {
    throw new Error("not used");
  }
}

const pin = (tag: string, digest: Digest): PinnedReference => ({ ...APP, tag, digest });

// Two builds of a three-platform image.
const old = [image(AMD64, 1), image(ARM64, 1), image(ARMV7, 1)] as const;
const now = [image(AMD64, 2), image(ARM64, 2), image(ARMV7, 2)] as const;
const oldIndex = index(old);
const newIndex = index(now);

function movedRegistry(): FakeRegistry {
  return new FakeRegistry().putIndex(oldIndex, old).putIndex(newIndex, now).tag("1", newIndex.digest);
}

describe("createPinFollower", () => {
  it("reads nothing past the tag when the pin is current: one GET of the tag", async () => {
    const registry = movedRegistry();
    const followed = await createPinFollower(registry).follow(pin("1", newIndex.digest));
    expect(followed).toEqual({ current: newIndex.digest, kind: "index", tagDigest: newIndex.digest });
    expect(registry.calls).toEqual({ headManifest: 0, getManifest: 1, getBlob: 0 });
  });

  it("looks Docker Hub tags up with HEAD, which its pull rate limits do not count", async () => {
    const registry = movedRegistry();
    const hubPin = { ...pin("1", newIndex.digest), registry: "docker.io" };
    expect((await createPinFollower(registry).follow(hubPin)).current).toBe(newIndex.digest);
    expect(registry.calls).toEqual({ headManifest: 1, getManifest: 0, getBlob: 0 });
  });

  it("moves an index pin to the tag's new index", async () => {
    const registry = movedRegistry();
    const followed = await createPinFollower(registry).follow(pin("1", oldIndex.digest));
    expect(followed).toEqual({ current: newIndex.digest, kind: "index", tagDigest: newIndex.digest });
    expect(registry.calls.getBlob).toBe(0);
  });

  it("recognises a platform pin that is already in the tag's index, without reading it", async () => {
    const registry = movedRegistry();
    const followed = await createPinFollower(registry).follow(pin("1", now[1].manifest.digest));
    expect(followed).toEqual({ current: now[1].manifest.digest, kind: "manifest", platform: ARM64, tagDigest: newIndex.digest });
    // Only the tag itself, whose body is the index the pin is found in.
    expect(registry.fetched).toEqual(["1"]);
    expect(registry.calls.getBlob).toBe(0);
  });

  it("moves a stale platform pin to the same platform in the new index, found through its config", async () => {
    const registry = movedRegistry();
    const followed = await createPinFollower(registry).follow(pin("1", old[2].manifest.digest));
    expect(followed).toEqual({ current: now[2].manifest.digest, kind: "manifest", platform: ARMV7, tagDigest: newIndex.digest });
    expect(registry.calls.getBlob).toBe(1);
  });

  it("treats arm64 and arm64/v8 as the same platform", async () => {
    const pinned = image({ os: "linux", architecture: "arm64", variant: "v8" }, 1);
    const registry = new FakeRegistry().putImage(pinned).putIndex(newIndex, now).tag("1", newIndex.digest);
    const followed = await createPinFollower(registry).follow(pin("1", pinned.manifest.digest));
    expect(followed.current).toBe(now[1].manifest.digest);
  });

  it("follows a single-manifest tag of the same platform", async () => {
    const registry = new FakeRegistry().putImage(old[0]).putImage(now[0]).tag("1", now[0].manifest.digest);
    const followed = await createPinFollower(registry).follow(pin("1", old[0].manifest.digest));
    expect(followed).toEqual({ current: now[0].manifest.digest, kind: "manifest", platform: AMD64, tagDigest: now[0].manifest.digest });
  });

  it("refuses to move a pin to a single manifest of another platform", async () => {
    const registry = new FakeRegistry().putImage(old[1]).putImage(now[0]).tag("1", now[0].manifest.digest);
    const error = await registryError(createPinFollower(registry).follow(pin("1", old[1].manifest.digest)));
    expect(error.code).toBe("NO_PLATFORM");
    expect(error.message).toContain("linux/arm64");
    expect(error.message).toContain("linux/amd64");
  });

  it("says NO_PLATFORM, naming what is left, when the platform is gone from the new index", async () => {
    const slim = index([now[0], now[1]]);
    const registry = new FakeRegistry().putIndex(oldIndex, old).putIndex(slim, [now[0], now[1]]).tag("1", slim.digest);
    const error = await registryError(createPinFollower(registry).follow(pin("1", old[2].manifest.digest)));
    expect(error.code).toBe("NO_PLATFORM");
    expect(error.message).toBe(
      `${HOST}/team/app:1: the tag no longer has a linux/arm/v7 image (it has linux/amd64, linux/arm64); pin another platform or the index`,
    );
  });

  it("keeps an index pin an index pin when the tag becomes a single manifest", async () => {
    const registry = new FakeRegistry().putIndex(oldIndex, old).putImage(now[0]).tag("1", now[0].manifest.digest);
    const followed = await createPinFollower(registry).follow(pin("1", oldIndex.digest));
    expect(followed).toEqual({ current: now[0].manifest.digest, kind: "index", tagDigest: now[0].manifest.digest });
  });

  it("follows a single-manifest tag when the pinned digest was deleted", async () => {
    const gone = image(AMD64, 9).manifest.digest;
    const registry = new FakeRegistry().putImage(now[0]).tag("1", now[0].manifest.digest);
    const followed = await createPinFollower(registry).follow(pin("1", gone));
    expect(followed).toEqual({ current: now[0].manifest.digest, kind: "manifest", tagDigest: now[0].manifest.digest, vanished: "digest" });
  });

  it("asks for a hand edit when the pinned digest was deleted and the tag is multi-platform", async () => {
    const gone = image(AMD64, 9).manifest.digest;
    const registry = new FakeRegistry().putIndex(newIndex, now).tag("1", newIndex.digest);
    const error = await registryError(createPinFollower(registry).follow(pin("1", gone)));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain(`pinned digest ${gone} no longer exists on ${HOST}`);
    expect(error.message).toContain("by hand");
    expect((error as VanishedPinError).vanished).toBe("digest");
  });

  it("passes on other failures, such as a missing tag", async () => {
    const registry = movedRegistry();
    expect((await registryError(createPinFollower(registry).follow(pin("2", oldIndex.digest)))).code).toBe("NOT_FOUND");
  });

  it("resolves each tag once and reads each manifest and config at most once, however many pins", async () => {
    const registry = movedRegistry().tag("stable", newIndex.digest);
    const follower = createPinFollower(registry);
    const pins = [
      ...Array.from({ length: 10 }, () => pin("1", old[2].manifest.digest)),
      ...Array.from({ length: 5 }, () => pin("1", old[1].manifest.digest)),
      pin("1", oldIndex.digest),
      pin("1", newIndex.digest),
      pin("stable", old[2].manifest.digest),
    ];
    const results = await Promise.all(pins.map((p) => follower.follow(p)));
    expect(results[0]!.current).toBe(now[2].manifest.digest);
    expect(results[10]!.current).toBe(now[1].manifest.digest);
    expect(results[17]!.current).toBe(now[2].manifest.digest);
    expect(registry.calls.headManifest).toBe(0);
    // Each tag (whose body is the new index), the two pinned images and the old index: each once. The images the pins
    // move to are not read: a read-only run needs no more, and a write confirms them first (src/engine/confirm.ts).
    expect([...registry.fetched].sort()).toEqual(["1", "stable", old[2].manifest.digest, old[1].manifest.digest, oldIndex.digest].sort());
    expect(registry.calls.getBlob).toBe(2);
  });
});

describe("pin following over HTTP", () => {
  afterEach(() => {
    const unused = nock.pendingMocks();
    nock.cleanAll();
    expect(unused).toEqual([]);
  });

  it("sends one manifest request per unique tag and one token per repository", async () => {
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": `Bearer realm="https://auth.example.test/token",service="${HOST}"` });
    nock("https://auth.example.test").get("/token").query(true).reply(200, { token: "t" });
    nock(ORIGIN).get("/v2/team/app/manifests/1").reply(200, newIndex.body, manifestHeaders(newIndex, MediaType.OciIndex));
    nock(ORIGIN).get("/v2/team/app/manifests/2").reply(200, newIndex.body, manifestHeaders(newIndex, MediaType.OciIndex));
    const client = testClient();
    const follower = createPinFollower(client);
    const pins = [pin("1", newIndex.digest), pin("1", newIndex.digest), pin("2", newIndex.digest)];
    for (const followed of await Promise.all(pins.map((p) => follower.follow(p)))) {
      expect(followed.current).toBe(newIndex.digest);
    }
    expect(client.stats()).toMatchObject({ tokenRequests: 1, byKind: { manifest: 2, blob: 0 } });
  });
});
