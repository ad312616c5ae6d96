// Pin following end to end: real registry, real client, the follower deciding what each pin should carry now.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Digest, PinnedReference } from "../../src/reference/types.js";
import { createRegistryClient } from "../../src/registry/client.js";
import { createPinFollower, VanishedPinError } from "../../src/registry/follow.js";
import {
  LINUX_AMD64,
  LINUX_ARM64,
  LINUX_ARM_V7,
  MULTI_ARCH,
  deleteManifest,
  movingTag,
  pushBuild,
} from "../support/images.js";
import { registryError } from "../registry/fixtures.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

/** A client that reads credentials from a Docker config in `dockerConfig` only, and a follower over it. */
function fresh(dockerConfig?: string) {
  const client = createRegistryClient({ env: { DOCKER_CONFIG: dockerConfig ?? "/nonexistent/digesta-test" }, retries: 0 });
  return { client, follower: createPinFollower(client) };
}

describe("following pins on a real registry", () => {
  let reg: TestRegistry;
  const pin = (repository: string, tag: string, digest: Digest): PinnedReference => ({ registry: reg.host, repository, tag, digest });

  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(() => reg?.stop());

  it("moves an index pin to the tag's new index", async () => {
    const { before, after } = await movingTag(reg, "follow/index", "1", { platforms: MULTI_ARCH });
    const { follower } = fresh();
    expect(await follower.follow(pin("follow/index", "1", before.digest))).toEqual({ current: after.digest, kind: "index", tagDigest: after.digest });
  });

  it("keeps an index pin that is already current", async () => {
    const { after } = await movingTag(reg, "follow/current", "1", { platforms: MULTI_ARCH });
    const { follower, client } = fresh();
    expect(await follower.follow(pin("follow/current", "1", after.digest))).toEqual({ current: after.digest, kind: "index", tagDigest: after.digest });
    expect(client.stats().byKind.manifest).toBe(1);
  });

  it("moves a linux/arm64 pin to the new arm64 manifest, and an arm/v7 pin to the new arm/v7 one", async () => {
    const { before, after } = await movingTag(reg, "follow/platform", "1", { platforms: MULTI_ARCH });
    const { follower } = fresh();
    expect(await follower.follow(pin("follow/platform", "1", before.platforms["linux/arm64"]!))).toEqual({
      current: after.platforms["linux/arm64"],
      kind: "manifest",
      platform: LINUX_ARM64,
      tagDigest: after.digest,
    });
    expect(await follower.follow(pin("follow/platform", "1", before.platforms["linux/arm/v7"]!))).toMatchObject({
      current: after.platforms["linux/arm/v7"],
      platform: LINUX_ARM_V7,
    });
    // A platform pin that is already current stays.
    expect(await follower.follow(pin("follow/platform", "1", after.platforms["linux/amd64"]!))).toMatchObject({
      current: after.platforms["linux/amd64"],
      kind: "manifest",
    });
  });

  it("follows platform pins in Docker manifest lists", async () => {
    const { before, after } = await movingTag(reg, "follow/docker", "1", { platforms: MULTI_ARCH, format: "docker" });
    const { follower } = fresh();
    expect(await follower.follow(pin("follow/docker", "1", before.platforms["linux/arm64"]!))).toMatchObject({
      current: after.platforms["linux/arm64"],
      tagDigest: after.digest,
    });
    expect(await follower.follow(pin("follow/docker", "1", before.digest))).toMatchObject({ current: after.digest, kind: "index" });
  });

  it("follows platform pins past BuildKit attestation entries in the index", async () => {
    const { before, after } = await movingTag(reg, "follow/attested", "1", { platforms: [LINUX_AMD64, LINUX_ARM64], attestations: true });
    const { follower } = fresh();
    expect(await follower.follow(pin("follow/attested", "1", before.platforms["linux/arm64"]!))).toMatchObject({
      current: after.platforms["linux/arm64"],
    });
  });

  it("moves a single-manifest pin to the tag's new manifest", async () => {
    const { before, after } = await movingTag(reg, "follow/single", "1");
    const { follower } = fresh();
    expect(await follower.follow(pin("follow/single", "1", before.digest))).toMatchObject({
      current: after.digest,
      kind: "manifest",
      tagDigest: after.digest,
    });
  });

  it("says NO_PLATFORM when the new index dropped the pinned platform", async () => {
    const first = await pushBuild(reg, "follow/dropped", "1", { platforms: MULTI_ARCH, generation: 1 });
    await pushBuild(reg, "follow/dropped", "1", { platforms: [LINUX_AMD64, LINUX_ARM64], generation: 2 });
    const { follower } = fresh();
    const error = await registryError(follower.follow(pin("follow/dropped", "1", first.platforms["linux/arm/v7"]!)));
    expect(error.code).toBe("NO_PLATFORM");
    expect(error.message).toContain("linux/arm/v7");
    expect(error.message).toContain("follow/dropped:1");
    expect(error.message).not.toContain("\n");
  });

  it("follows a single-manifest tag whose pinned digest was deleted, but not an index tag", async () => {
    const single = await movingTag(reg, "follow/deleted", "single");
    await deleteManifest(reg, "follow/deleted", single.before.digest);
    const multi = await movingTag(reg, "follow/deleted", "multi", { platforms: MULTI_ARCH });
    await deleteManifest(reg, "follow/deleted", multi.before.platforms["linux/arm64"]!);
    const { follower } = fresh();
    expect(await follower.follow(pin("follow/deleted", "single", single.before.digest))).toMatchObject({
      current: single.after.digest,
      vanished: "digest",
    });
    const error = await registryError(follower.follow(pin("follow/deleted", "multi", multi.before.platforms["linux/arm64"]!)));
    expect(error.code).toBe("NOT_FOUND");
    expect(error).toBeInstanceOf(VanishedPinError);
    expect((error as VanishedPinError).vanished).toBe("digest");
  });

  it("says the tag vanished for a pin whose tag is gone, and whether its digest went too", async () => {
    const { before } = await movingTag(reg, "follow/gone", "1");
    const { follower } = fresh();
    const error = await registryError(follower.follow(pin("follow/gone", "no-such-tag", before.digest)));
    expect(error.code).toBe("NOT_FOUND");
    expect((error as VanishedPinError).vanished).toBe("tag");
    expect(error.message).toContain("follow/gone:no-such-tag");
    expect(error.message).toMatch(/the pinned digest still does/);

    // Deleting the manifest takes its tag with it.
    const only = await pushBuild(reg, "follow/gone", "only");
    await deleteManifest(reg, "follow/gone", only.digest);
    const both = await registryError(fresh().follower.follow(pin("follow/gone", "only", only.digest)));
    expect((both as VanishedPinError).vanished).toBe("tag-and-digest");
    expect(both.message).toMatch(/a deploy from this pin fails/);
  });

  it("does not call a pin vanished when the registry refuses to answer", async () => {
    const { before } = await movingTag(reg, "follow/refused", "1");
    const { follower } = fresh();
    // Nothing listens on port 1: a network failure is a failure to check, not a vanished pin.
    const error = await registryError(follower.follow({ registry: "127.0.0.1:1", repository: "follow/refused", tag: "1", digest: before.digest }));
    expect(error.code).toBe("NETWORK");
    expect(error).not.toBeInstanceOf(VanishedPinError);
  });
});

describe("following 1,000 pins over a handful of tags", () => {
  let reg: TestRegistry;
  let dockerConfig: string;
  const tags = [
    { repository: "fleet/api", tag: "1" },
    { repository: "fleet/api", tag: "2" },
    { repository: "fleet/web", tag: "1" },
    { repository: "fleet/web", tag: "stable" },
    { repository: "fleet/worker", tag: "1" },
  ];
  const builds: { repository: string; tag: string; before: Awaited<ReturnType<typeof pushBuild>>; after: Awaited<ReturnType<typeof pushBuild>> }[] = [];

  beforeAll(async () => {
    reg = await startRegistry({ auth: "token" });
    dockerConfig = await reg.dockerConfigDir();
    for (const [i, { repository, tag }] of tags.entries()) {
      const before = await pushBuild(reg, repository, tag, { platforms: MULTI_ARCH, generation: 1 });
      // Tags 0, 2 and 4 move; 1 and 3 stay.
      const after = i % 2 === 0 ? await pushBuild(reg, repository, tag, { platforms: MULTI_ARCH, generation: 2 }) : before;
      builds.push({ repository, tag, before, after });
    }
  });
  afterAll(() => reg?.stop());

  const pinOf = (b: (typeof builds)[number], digest: Digest): PinnedReference => ({ registry: reg.host, repository: b.repository, tag: b.tag, digest });

  it("makes one manifest request per unique tag and one token request per repository when the pins are current", async () => {
    const { client, follower } = fresh(dockerConfig);
    const pins = Array.from({ length: 1000 }, (_, i) => {
      const b = builds[i % builds.length]!;
      return pinOf(b, b.after.digest);
    });
    const tokensBefore = reg.tokenServer!.requests.length;
    const results = await Promise.all(pins.map((p) => follower.follow(p)));
    expect(results.every((r, i) => r.current === pins[i]!.digest)).toBe(true);
    expect(client.stats().byKind.manifest).toBe(tags.length);
    expect(client.stats().byKind.blob).toBe(0);
    expect(reg.tokenServer!.requests.length - tokensBefore).toBe(new Set(tags.map((t) => t.repository)).size);
    expect(client.stats().tokenRequests).toBe(3);
  });

  it("costs the same requests for 1,000 mixed pins as for their distinct pins, and follows each correctly", async () => {
    const kinds = ["index", "linux/amd64", "linux/arm64", "linux/arm/v7"] as const;
    const pins = Array.from({ length: 1000 }, (_, i) => {
      const b = builds[i % builds.length]!;
      const kind = kinds[Math.floor(i / builds.length) % kinds.length]!;
      const expected = kind === "index" ? b.after.digest : b.after.platforms[kind]!;
      return { pin: pinOf(b, kind === "index" ? b.before.digest : b.before.platforms[kind]!), expected };
    });

    const many = fresh(dockerConfig);
    const results = await Promise.all(pins.map(({ pin }) => many.follower.follow(pin)));
    results.forEach((result, i) => expect(result.current).toBe(pins[i]!.expected));

    const distinct = [...new Map(pins.map(({ pin }) => [`${pin.repository}:${pin.tag}@${pin.digest}`, pin])).values()];
    expect(distinct.length).toBe(builds.length * kinds.length);
    const once = fresh(dockerConfig);
    for (const p of distinct) await once.follower.follow(p);

    expect(many.client.stats().byKind).toEqual(once.client.stats().byKind);
    // Each tag resolved once and each manifest read at most once: never more than tags + distinct digests.
    const digests = new Set(builds.flatMap((b) => [b.before.digest, b.after.digest, ...Object.values(b.before.platforms)]));
    expect(many.client.stats().byKind.manifest).toBeLessThanOrEqual(tags.length + digests.size);
    expect(many.client.stats().tokenRequests).toBe(3);
  });
});
