import { tagKey } from "../reference/format.js";
import type { ImageName, PinnedReference } from "../reference/types.js";
import type { PinnedOccurrence, SkippedOccurrence, TextScan } from "../scan/types.js";
import type { DigestEdit, ImageUpdate, PinFailure, PinResolution, UpdatePlan, UpToDatePin, VanishedPin } from "./types.js";

/** The identity of a pin: the same key wherever, and however often, it is written. */
export function pinKey(ref: PinnedReference): string {
  return `${ref.registry}/${ref.repository}:${ref.tag}@${ref.digest}`;
}

/** Groups pinned occurrences by pin, keeping first-seen order. */
export function groupPins(pins: readonly PinnedOccurrence[]): Map<string, PinnedOccurrence[]> {
  const groups = new Map<string, PinnedOccurrence[]>();
  for (const pin of pins) {
    const key = pinKey(pin.reference);
    const group = groups.get(key);
    if (group) group.push(pin);
    else groups.set(key, [pin]);
  }
  return groups;
}

/**
 * Decides, from what each unique pin resolved to, which pins move and which bytes of which files change.
 * Pure: the same scan and resolutions always give the same plan.
 */
export function planUpdates(scan: TextScan, resolutions: ReadonlyMap<string, PinResolution>): UpdatePlan {
  const updates: ImageUpdate[] = [];
  const upToDate: UpToDatePin[] = [];
  const failed: PinFailure[] = [];
  const vanished: VanishedPin[] = [];
  const skipped: SkippedOccurrence[] = [...scan.skipped];
  const edits = new Map<string, DigestEdit[]>();

  for (const [key, occurrences] of groupPins(scan.pinned)) {
    const first = occurrences[0]!.reference;
    const pin = {
      image: { registry: first.registry, repository: first.repository },
      tag: first.tag,
      digest: first.digest,
      occurrences,
    };
    const resolution = resolutions.get(key) ?? { ok: false as const, reason: "not resolved", skip: true };
    if (!resolution.ok) {
      // A loop, not push(...): one pin may stand in more places than a call takes arguments.
      if (resolution.skip) for (const o of occurrences) skipped.push({ ...o, reason: resolution.reason });
      else if (resolution.vanished) vanished.push({ ...pin, vanished: resolution.vanished, reason: resolution.reason });
      else failed.push({ ...pin, reason: resolution.reason });
      continue;
    }
    if (resolution.vanished) {
      vanished.push({
        ...pin,
        vanished: resolution.vanished,
        reason: `the pinned digest ${pin.digest} no longer exists on ${pin.image.registry}, so a deploy from this pin fails; the tag leads to ${resolution.current}`,
        movedTo: resolution.current,
      });
    }
    if (resolution.current === first.digest) {
      upToDate.push(pin);
      continue;
    }
    updates.push({
      image: pin.image,
      tag: pin.tag,
      from: pin.digest,
      to: resolution.current,
      kind: resolution.kind,
      ...(resolution.platform ? { platform: resolution.platform } : {}),
      occurrences,
    });
    for (const occurrence of occurrences) {
      const fileEdits = edits.get(occurrence.path) ?? [];
      fileEdits.push({ digestOffset: occurrence.digestOffset, from: pin.digest, to: resolution.current });
      edits.set(occurrence.path, fileEdits);
    }
  }

  for (const fileEdits of edits.values()) fileEdits.sort((a, b) => a.digestOffset - b.digestOffset);
  const byName = (a: { image: ImageName; tag: string }, b: typeof a) => tagKey(a.image, a.tag).localeCompare(tagKey(b.image, b.tag));
  updates.sort(byName);
  upToDate.sort(byName);
  failed.sort(byName);
  vanished.sort(byName);
  return { updates, upToDate, failed, vanished, skipped, edits: new Map([...edits].sort(([a], [b]) => a.localeCompare(b))) };
}
