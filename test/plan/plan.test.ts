import { describe, expect, it } from "vitest";
import { pinKey, planUpdates } from "../../src/plan/plan.js";
import type { PinResolution } from "../../src/plan/types.js";
import { digest, pinnedOccurrence, skippedOccurrence, textScan } from "../factories/pins.js";

const moved = (to: string): PinResolution => ({ ok: true, current: digest(to), kind: "index" });

describe("planUpdates", () => {
  it("moves a stale pin in every place it stands, and edits only those digests", () => {
    const a = pinnedOccurrence({ path: "b.yaml", offset: 100 });
    const b = pinnedOccurrence({ path: "a.yaml", offset: 7 });
    const c = pinnedOccurrence({ path: "b.yaml", offset: 10 });
    const plan = planUpdates(textScan([a, b, c]), new Map([[pinKey(a.reference), moved("b")]]));

    expect(plan.updates).toHaveLength(1);
    expect(plan.updates[0]).toMatchObject({ tag: "latest", from: digest("a"), to: digest("b"), kind: "index" });
    expect(plan.updates[0]!.occurrences).toHaveLength(3);
    expect([...plan.edits.keys()]).toEqual(["a.yaml", "b.yaml"]);
    expect(plan.edits.get("b.yaml")!.map((e) => e.digestOffset)).toEqual([c.digestOffset, a.digestOffset]);
    expect(plan.edits.get("b.yaml")!.every((e) => e.from === digest("a") && e.to === digest("b"))).toBe(true);
  });

  it("skips a pin written in more places than a function call takes arguments", () => {
    const places = Array.from({ length: 200_000 }, (_, i) => pinnedOccurrence({ path: `f${i % 20}.yaml`, offset: 100 * i }));
    const plan = planUpdates(textScan(places), new Map([[pinKey(places[0]!.reference), { ok: false, reason: "ignored", skip: true }]]));
    expect(plan.skipped).toHaveLength(200_000);
  });

  it("reports up-to-date, failed and skipped pins without editing them", () => {
    const fresh = pinnedOccurrence({ reference: { tag: "fresh" } });
    const broken = pinnedOccurrence({ reference: { tag: "broken" } });
    const ignored = pinnedOccurrence({ reference: { tag: "ignored" } });
    const digestOnly = skippedOccurrence();
    const plan = planUpdates(
      textScan([fresh, broken, ignored], [digestOnly]),
      new Map<string, PinResolution>([
        [pinKey(fresh.reference), { ok: true, current: digest("a"), kind: "index" }],
        [pinKey(broken.reference), { ok: false, reason: "registry cgr.dev: 404 manifest unknown" }],
        [pinKey(ignored.reference), { ok: false, reason: "ignored by configuration", skip: true }],
      ]),
    );
    expect(plan.updates).toEqual([]);
    expect(plan.edits.size).toBe(0);
    expect(plan.upToDate.map((p) => p.tag)).toEqual(["fresh"]);
    expect(plan.failed).toMatchObject([{ tag: "broken", reason: "registry cgr.dev: 404 manifest unknown" }]);
    expect(plan.skipped.map((s) => s.reason)).toEqual(["no tag to follow (digest-only reference)", "ignored by configuration"]);
  });

  it("reports vanished pins apart from failures: unmoved when the registry has neither, moved when the tag still leads somewhere", () => {
    const gone = pinnedOccurrence({ reference: { tag: "gone" } });
    const rebuilt = pinnedOccurrence({ reference: { tag: "rebuilt" }, offset: 50 });
    const plan = planUpdates(
      textScan([gone, rebuilt]),
      new Map<string, PinResolution>([
        [pinKey(gone.reference), { ok: false, reason: "neither the tag nor the digest", vanished: "tag-and-digest" }],
        [pinKey(rebuilt.reference), { ok: true, current: digest("c"), kind: "manifest", vanished: "digest" }],
      ]),
    );
    expect(plan.failed).toEqual([]);
    expect(plan.vanished).toMatchObject([
      { tag: "gone", vanished: "tag-and-digest", reason: "neither the tag nor the digest" },
      { tag: "rebuilt", vanished: "digest", movedTo: digest("c") },
    ]);
    expect(plan.vanished[0]!.movedTo).toBeUndefined();
    expect(plan.updates).toMatchObject([{ tag: "rebuilt", to: digest("c") }]);
  });

  it("keeps pins of one tag at different digests apart: each moves from its own digest", () => {
    const old = pinnedOccurrence({ path: "a.yaml", reference: { digest: digest("1") } });
    const older = pinnedOccurrence({ path: "b.yaml", reference: { digest: digest("2") } });
    const plan = planUpdates(
      textScan([old, older]),
      new Map([
        [pinKey(old.reference), moved("3")],
        [pinKey(older.reference), moved("3")],
      ]),
    );
    expect(plan.updates.map((u) => u.from).sort()).toEqual([digest("1"), digest("2")]);
    expect(plan.edits.get("a.yaml")![0]).toMatchObject({ from: digest("1"), to: digest("3") });
    expect(plan.edits.get("b.yaml")![0]).toMatchObject({ from: digest("2"), to: digest("3") });
  });

  it("keeps the platform a platform pin follows", () => {
    const pin = pinnedOccurrence();
    const platform = { os: "linux", architecture: "arm64" };
    const plan = planUpdates(textScan([pin]), new Map([[pinKey(pin.reference), { ok: true, current: digest("d"), kind: "manifest", platform } as const]]));
    expect(plan.updates[0]).toMatchObject({ kind: "manifest", platform });
  });
});
