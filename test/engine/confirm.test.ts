import { describe, expect, it } from "vitest";
import { confirmMoves } from "../../src/engine/confirm.js";
import { pinKey } from "../../src/plan/plan.js";
import type { PinResolution } from "../../src/plan/types.js";
import { RegistryError } from "../../src/registry/errors.js";
import type { ManifestMemo } from "../../src/registry/manifest-memo.js";
import { digest, pinnedOccurrence } from "../factories/pins.js";

/** A memo whose `confirm` knows only `held`, and fails `flaky` with a server error; every call is counted. */
function memo(held: readonly string[], flaky?: string) {
  const calls: string[] = [];
  const reader = {
    async confirm(_name, target, kind, options) {
      calls.push(`${target} ${kind}${options?.read ? " read" : ""}`);
      if (target === flaky) throw new RegistryError("SERVER_ERROR", `registry.test: 503 for ${target}`, 503);
      if (!held.includes(target)) throw new RegistryError("NOT_FOUND", `${target}: not found`, 404);
    },
  } as Pick<ManifestMemo, "confirm"> as ManifestMemo;
  return { reader, calls };
}

describe("confirmMoves", () => {
  const amd = pinnedOccurrence({ reference: { tag: "1", digest: digest("a") } });
  const amdAgain = pinnedOccurrence({ reference: { tag: "1.0", digest: digest("a") }, line: 2 });
  const arm = pinnedOccurrence({ reference: { tag: "1", digest: digest("b") }, line: 3 });
  const upToDate = pinnedOccurrence({ reference: { tag: "1", digest: digest("c") }, line: 4 });
  const gone = pinnedOccurrence({ reference: { tag: "2", digest: digest("d") }, line: 5 });
  const failed = pinnedOccurrence({ reference: { tag: "3", digest: digest("e") }, line: 6 });
  const pins = [amd, amdAgain, arm, upToDate, gone, failed];
  const resolutions = new Map<string, PinResolution>([
    [pinKey(amd.reference), { ok: true, current: digest("1"), kind: "manifest", platform: { os: "linux", architecture: "amd64" } }],
    [pinKey(amdAgain.reference), { ok: true, current: digest("1"), kind: "manifest", platform: { os: "linux", architecture: "amd64" } }],
    [pinKey(arm.reference), { ok: true, current: digest("2"), kind: "manifest", platform: { os: "linux", architecture: "arm64" } }],
    [pinKey(upToDate.reference), { ok: true, current: digest("c"), kind: "index" }],
    [pinKey(gone.reference), { ok: true, current: digest("3"), kind: "index", vanished: "digest" }],
    [pinKey(failed.reference), { ok: false, reason: "registry.test: 503" }],
  ]);

  it("confirms each digest to be written, leaves alone those the registry does not have, and touches nothing else", async () => {
    const { reader, calls } = memo([digest("1")]);
    const confirmed = await confirmMoves(pins, resolutions, reader, { read: true });
    expect(confirmed.get(pinKey(amd.reference))).toEqual(resolutions.get(pinKey(amd.reference)));
    expect(confirmed.get(pinKey(amdAgain.reference))).toEqual(resolutions.get(pinKey(amdAgain.reference)));
    expect(confirmed.get(pinKey(arm.reference))).toEqual({
      ok: false,
      reason: `cgr.dev/chainguard/static:1: the tag's index names ${digest("2")} for linux/arm64, but the registry does not have it; the pin is left as it is until the tag is pushed whole again`,
    });
    // A pin whose own digest is gone stays vanished (a deploy from it fails), saying why it is not moved.
    expect(confirmed.get(pinKey(gone.reference))).toMatchObject({ ok: false, vanished: "digest" });
    expect((confirmed.get(pinKey(gone.reference)) as { reason: string }).reason).toContain(`the tag leads to ${digest("3")}, but the registry does not have it`);
    expect(confirmed.get(pinKey(upToDate.reference))).toEqual(resolutions.get(pinKey(upToDate.reference)));
    expect(confirmed.get(pinKey(failed.reference))).toEqual(resolutions.get(pinKey(failed.reference)));
    // Up-to-date and failed pins are not asked about; the memo answers a digest asked twice from one request.
    expect(calls.sort()).toEqual([`${digest("1")} manifest read`, `${digest("1")} manifest read`, `${digest("2")} manifest read`, `${digest("3")} index read`].sort());
  });

  it("a digest that cannot be confirmed is not written either, with the registry's reason on one line", async () => {
    const { reader } = memo([digest("1"), digest("3")], digest("2"));
    const confirmed = await confirmMoves(pins, resolutions, reader);
    const reason = (confirmed.get(pinKey(arm.reference)) as { ok: false; reason: string }).reason;
    expect(reason).toBe(`cgr.dev/chainguard/static:1: could not confirm the registry has ${digest("2")}, so the pin is left as it is: registry.test: 503 for ${digest("2")}`);
    expect(confirmed.get(pinKey(gone.reference))).toEqual(resolutions.get(pinKey(gone.reference)));
  });
});
