import { describe, expect, it } from "vitest";
import { pinKey } from "../../src/plan/plan.js";
import type { PinResolution } from "../../src/plan/types.js";
import { createBuildTimeLookup } from "../../src/policy/build-time.js";
import { createCooldown } from "../../src/policy/cooldown.js";
import type { Digest } from "../../src/reference/types.js";
import { RegistryError } from "../../src/registry/errors.js";
import type { FetchedManifest, Registry, TagHistoryEntry } from "../../src/registry/types.js";
import { digest, pinnedOccurrence } from "../factories/pins.js";

const NOW = new Date("2026-05-10T12:00:00Z");
const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

/** Single-manifest images with a config each, and optionally a tag history. */
function memoryRegistry(images: Record<Digest, string | undefined>, history?: TagHistoryEntry[]): Registry {
  const configDigest = (d: Digest) => `sha256:${d.slice(-63)}0` as Digest;
  const unused = () => Promise.reject(new Error("not used"));
  return {
    headManifest: unused,
    openBlob: unused,
    referrers: unused,
    async getManifest(_name, reference): Promise<FetchedManifest> {
      if (!(reference in images)) throw new RegistryError("NOT_FOUND", `no ${reference}`);
      const json = { schemaVersion: 2, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest(reference as Digest), size: 100 }, layers: [] };
      return { digest: reference as Digest, mediaType: "application/vnd.oci.image.manifest.v1+json", bytes: new Uint8Array(), json };
    },
    async getBlob(_name, blob) {
      const image = (Object.keys(images) as Digest[]).find((d) => configDigest(d) === blob)!;
      const created = images[image];
      return new TextEncoder().encode(JSON.stringify(created ? { created } : {}));
    },
    async tagHistory() {
      if (!history) throw new RegistryError("NO_TAG_HISTORY", "no tag history on this registry");
      return history;
    },
  };
}

const A = digest("a");
const B = digest("b");
const C = digest("c");
const pin = pinnedOccurrence({ reference: { digest: A } });
const moved = (to: Digest) => new Map<string, PinResolution>([[pinKey(pin.reference), { ok: true, current: to, kind: "manifest" }]]);

function cooldownOver(registry: Registry, followsTo: Digest) {
  const follower = { follow: async () => ({ current: followsTo, kind: "manifest" as const, tagDigest: followsTo }) };
  return createCooldown(registry, follower, createBuildTimeLookup(registry, { os: "linux", architecture: "amd64" }));
}

describe("cooldown", () => {
  it("holds back a digest built more recently than the minimum age, saying from when it will be proposed", async () => {
    const registry = memoryRegistry({ [A]: ago(30).toISOString(), [B]: ago(1).toISOString() });
    const result = await cooldownOver(registry, B).apply([pin], moved(B), { minAge: 3 * DAY, now: NOW });
    expect(result.get(pinKey(pin.reference))).toEqual({
      ok: false,
      skip: true,
      reason: `cooldown: the new digest was built ${ago(1).toISOString()}; proposed from ${new Date(ago(1).getTime() + 3 * DAY).toISOString()}`,
    });
  });

  it("lets an old enough digest through, and one whose build time is unknown (cannot be enforced)", async () => {
    const old = memoryRegistry({ [B]: ago(5).toISOString() });
    expect((await cooldownOver(old, B).apply([pin], moved(B), { minAge: 3 * DAY, now: NOW })).get(pinKey(pin.reference))).toMatchObject({ ok: true, current: B });
    const epoch = memoryRegistry({ [B]: "1970-01-01T00:00:00Z" });
    expect((await cooldownOver(epoch, B).apply([pin], moved(B), { minAge: 3 * DAY, now: NOW })).get(pinKey(pin.reference))).toMatchObject({ ok: true, current: B });
  });

  it("with tag history, proposes what the tag pointed to the minimum age ago", async () => {
    const history = [
      { updateTimestamp: ago(10), digest: A },
      { updateTimestamp: ago(4), digest: B },
      { updateTimestamp: ago(1), digest: C },
    ];
    const registry = memoryRegistry({ [A]: undefined, [B]: undefined, [C]: undefined }, history);
    const key = pinKey(pin.reference);
    expect((await cooldownOver(registry, C).apply([pin], moved(C), { minAge: 3 * DAY, now: NOW })).get(key)).toMatchObject({ ok: true, current: B });
    expect((await cooldownOver(registry, C).apply([pin], moved(C), { minAge: DAY / 2, now: NOW })).get(key)).toMatchObject({ ok: true, current: C });
    expect((await cooldownOver(registry, C).apply([pin], moved(C), { minAge: 5 * DAY, now: NOW })).get(key)).toMatchObject({ ok: true, current: A });
    const young = await cooldownOver(registry, C).apply([pin], moved(C), { minAge: 20 * DAY, now: NOW });
    expect(young.get(key)).toMatchObject({ ok: false, skip: true, reason: expect.stringMatching(/^cooldown: the tag has no digest older than/) });
  });

  it("changes nothing without a minimum age, nor for pins already up to date or failed", async () => {
    const registry = memoryRegistry({});
    const resolutions = new Map<string, PinResolution>([[pinKey(pin.reference), { ok: false, reason: "registry down" }]]);
    expect(await cooldownOver(registry, B).apply([pin], moved(B), { minAge: 0, now: NOW })).toEqual(moved(B));
    expect(await cooldownOver(registry, B).apply([pin], resolutions, { minAge: DAY, now: NOW })).toEqual(resolutions);
  });
});

describe("build time", () => {
  it("reads the build time of the platform asked for in an index, matching arm64/v8 to arm64 as the follower does", async () => {
    const index = digest("9");
    const configOf = (d: Digest) => `sha256:${d.slice(-63)}0` as Digest;
    const created: Record<string, string> = { [configOf(A)]: ago(40).toISOString(), [configOf(B)]: ago(2).toISOString() };
    const manifest = (config: Digest) => ({ schemaVersion: 2, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config, size: 100 }, layers: [] });
    const entry = (d: Digest, architecture: string) => ({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: d, size: 100, platform: { os: "linux", architecture } });
    const manifests: Record<string, Record<string, unknown>> = {
      [index]: { schemaVersion: 2, manifests: [entry(A, "amd64"), entry(B, "arm64")] },
      [A]: manifest(configOf(A)),
      [B]: manifest(configOf(B)),
    };
    const unused = () => Promise.reject(new Error("not used"));
    const registry: Registry = {
      headManifest: unused,
      openBlob: unused,
      referrers: unused,
      tagHistory: unused,
      async getManifest(_name, reference): Promise<FetchedManifest> {
        return { digest: reference as Digest, mediaType: "application/vnd.oci.image.index.v1+json", bytes: new Uint8Array(), json: manifests[reference]! };
      },
      async getBlob(_name, blob) {
        return new TextEncoder().encode(JSON.stringify({ created: created[blob] }));
      },
    };
    const name = { registry: "registry.example", repository: "team/app" };
    expect(await createBuildTimeLookup(registry, { os: "linux", architecture: "arm64", variant: "v8" })(name, index)).toEqual(ago(2));
    expect(await createBuildTimeLookup(registry, { os: "linux", architecture: "amd64" })(name, index)).toEqual(ago(40));
  });
});
