import { describe, expect, it } from "vitest";
import { resolvePins } from "../../src/engine/resolve.js";
import { pinKey } from "../../src/plan/plan.js";
import type { FollowedPin } from "../../src/registry/follow-types.js";
import type { PinnedReference } from "../../src/reference/types.js";
import { RegistryError } from "../../src/registry/errors.js";
import { digestAt } from "../../src/registry/history.js";
import { MediaType, type Registry, type TagHistoryEntry } from "../../src/registry/types.js";
import { digest, pinnedOccurrence } from "../factories/pins.js";

function follower(answer: (pin: PinnedReference) => FollowedPin) {
  const calls: string[] = [];
  return {
    calls,
    async follow(pin: PinnedReference) {
      calls.push(pinKey(pin));
      return answer(pin);
    },
  };
}

/** A registry with one tag history, whose every digest is an index of `entries`. */
function historyRegistry(history: readonly TagHistoryEntry[], entries: readonly unknown[]): Registry {
  return {
    tagHistory: async () => history,
    getManifest: async (_name: unknown, reference: string) => ({
      digest: reference,
      mediaType: MediaType.OciIndex,
      bytes: new Uint8Array(),
      json: { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: entries },
    }),
  } as unknown as Registry;
}

describe("resolvePins", () => {
  it("asks once per unique pin, however many places pin it", async () => {
    const pins = Array.from({ length: 50 }, (_, i) => pinnedOccurrence({ path: `f${i}.yaml`, reference: { tag: i % 2 ? "a" : "b" } }));
    const fake = follower(() => ({ current: digest("e"), kind: "index", tagDigest: digest("e") }));
    const resolutions = await resolvePins(pins, fake);
    expect(fake.calls.sort()).toEqual([pinKey(pins[1]!.reference), pinKey(pins[0]!.reference)].sort());
    expect(resolutions.size).toBe(2);
  });

  it("turns one pin's failure into its reason and still resolves the others", async () => {
    const good = pinnedOccurrence({ reference: { tag: "good" } });
    const bad = pinnedOccurrence({ reference: { tag: "bad" } });
    const fake = follower((pin) => {
      if (pin.tag === "bad") throw new RegistryError("NOT_FOUND", "cgr.dev/chainguard/static:bad: manifest unknown\nstack noise", 404);
      return { current: digest("f"), kind: "index", tagDigest: digest("f") };
    });
    const resolutions = await resolvePins([good, bad], fake);
    expect(resolutions.get(pinKey(good.reference))).toEqual({ ok: true, current: digest("f"), kind: "index" });
    expect(resolutions.get(pinKey(bad.reference))).toEqual({ ok: false, reason: "cgr.dev/chainguard/static:bad: manifest unknown" });
  });

  it("skips pins the caller leaves alone, without asking the registry", async () => {
    const pin = pinnedOccurrence();
    const fake = follower(() => ({ current: digest("f"), kind: "index", tagDigest: digest("f") }));
    const resolutions = await resolvePins([pin], fake, { skip: () => "ignored by configuration" });
    expect(fake.calls).toEqual([]);
    expect(resolutions.get(pinKey(pin.reference))).toEqual({ ok: false, reason: "ignored by configuration", skip: true });
  });

  it("with a time, pins an index pin to the digest the tag had then, and a platform pin to that index's platform image", async () => {
    const history = [
      { updateTimestamp: new Date("2026-01-01T00:00:00Z"), digest: digest("1") },
      { updateTimestamp: new Date("2026-02-01T00:00:00Z"), digest: digest("2") },
      { updateTimestamp: new Date("2026-03-01T00:00:00Z"), digest: digest("3") },
    ];
    const registry = historyRegistry(history, [{ mediaType: MediaType.OciManifest, size: 500, digest: digest("9"), platform: { os: "linux", architecture: "arm64" } }]);
    const indexPin = pinnedOccurrence({ reference: { tag: "index" } });
    const armPin = pinnedOccurrence({ reference: { tag: "arm" } });
    const fake = follower((pin) =>
      pin.tag === "arm"
        ? { current: digest("8"), kind: "manifest", platform: { os: "linux", architecture: "arm64" }, tagDigest: digest("3") }
        : { current: digest("3"), kind: "index", tagDigest: digest("3") },
    );
    const resolutions = await resolvePins([indexPin, armPin], fake, { before: { time: new Date("2026-02-15T00:00:00Z"), registry } });
    expect(resolutions.get(pinKey(indexPin.reference))).toMatchObject({ ok: true, current: digest("2") });
    expect(resolutions.get(pinKey(armPin.reference))).toMatchObject({ ok: true, current: digest("9"), kind: "manifest" });
  });

  it("with a time, matches a platform pin as the follower does (arm64 is arm64/v8) and fails one the old index lacks or garbles", async () => {
    const history = [{ updateTimestamp: new Date("2026-01-01T00:00:00Z"), digest: digest("1") }];
    const at = { time: new Date("2026-02-01T00:00:00Z") };
    const platformPin = (platform: { os: string; architecture: string; variant?: string }) =>
      follower(() => ({ current: digest("8"), kind: "manifest", platform, tagDigest: digest("3") }));
    const pin = pinnedOccurrence();
    const arm64 = { mediaType: MediaType.OciManifest, size: 500, digest: digest("9"), platform: { os: "linux", architecture: "arm64" } };

    const good = historyRegistry(history, [arm64]);
    const v8 = await resolvePins([pin], platformPin({ os: "linux", architecture: "arm64", variant: "v8" }), { before: { ...at, registry: good } });
    expect(v8.get(pinKey(pin.reference))).toEqual({ ok: true, current: digest("9"), kind: "manifest", platform: { os: "linux", architecture: "arm64", variant: "v8" } });

    const s390x = await resolvePins([pin], platformPin({ os: "linux", architecture: "s390x" }), { before: { ...at, registry: good } });
    expect(s390x.get(pinKey(pin.reference))).toEqual({ ok: false, reason: `${digest("1")} has no linux/s390x image; a platform pin cannot move to it` });

    const garbled = historyRegistry(history, [{ ...arm64, digest: "sha256:not-a-digest" }]);
    const bad = await resolvePins([pin], platformPin({ os: "linux", architecture: "arm64" }), { before: { ...at, registry: garbled } });
    expect(bad.get(pinKey(pin.reference))).toMatchObject({ ok: false, reason: expect.stringMatching(/not a valid image index/) });
  });
});

describe("digestAt", () => {
  const history = [
    { updateTimestamp: new Date("2026-01-01T00:00:00Z"), digest: digest("1") },
    { updateTimestamp: new Date("2026-02-01T00:00:00Z"), digest: digest("2") },
  ];
  it("gives the last digest at or before the time, and nothing before the first", () => {
    expect(digestAt(history, new Date("2025-12-31T23:59:59Z"))).toBeUndefined();
    expect(digestAt(history, new Date("2026-01-01T00:00:00Z"))).toBe(digest("1"));
    expect(digestAt(history, new Date("2026-01-31T00:00:00Z"))).toBe(digest("1"));
    expect(digestAt(history, new Date("2027-01-01T00:00:00Z"))).toBe(digest("2"));
  });
});
