import { tagKey } from "../reference/format.js";
import type { Digest, ImageName, Platform } from "../reference/types.js";
import type { DigestInsertion } from "../rewrite/insert.js";
import type { UnpinnableOccurrence, UnpinnedOccurrence, UnpinnedScan } from "./types.js";

/**
 * What one `image:tag` points to now, or why that could not be learnt, or (`heldBack`) the digest a policy kept it from
 * being pinned to (a signature that did not verify under `verify.required`).
 */
export type TagResolution =
  | { readonly ok: true; readonly digest: Digest; readonly kind: "index" | "manifest"; readonly platform?: Platform }
  | { readonly ok: false; readonly reason: string; readonly heldBack?: Digest };

/** One image:tag to pin, with every place it is written. */
export interface PinAddition {
  readonly image: ImageName;
  readonly tag: string;
  readonly digest: Digest;
  readonly kind: "index" | "manifest";
  readonly platform?: Platform;
  readonly occurrences: readonly UnpinnedOccurrence[];
}

export interface PinLookupFailure {
  readonly image: ImageName;
  readonly tag: string;
  readonly reason: string;
  readonly occurrences: readonly UnpinnedOccurrence[];
}

/** A tag left unpinned on purpose: the digest it points to did not pass a policy. */
export interface PinHeldBack extends PinLookupFailure {
  readonly digest: Digest;
}

export interface PinPlan {
  readonly pins: readonly PinAddition[];
  readonly failed: readonly PinLookupFailure[];
  /** Looked up, and not pinned because of a policy (listed under "Held back", not as a failure). */
  readonly heldBack: readonly PinHeldBack[];
  readonly unpinnable: readonly UnpinnableOccurrence[];
  /** Insertions per file path, sorted by offset; paths sorted. */
  readonly insertions: ReadonlyMap<string, readonly DigestInsertion[]>;
}

/** The key one `image:tag` is looked up under, however it is written. */
export function unpinnedKey(occurrence: UnpinnedOccurrence): string {
  return tagKey(occurrence.reference, occurrence.reference.tag);
}

/** Groups unpinned occurrences by image:tag, keeping first-seen order. */
export function groupUnpinned(occurrences: readonly UnpinnedOccurrence[]): Map<string, UnpinnedOccurrence[]> {
  const groups = new Map<string, UnpinnedOccurrence[]>();
  for (const occurrence of occurrences) {
    const key = unpinnedKey(occurrence);
    const group = groups.get(key);
    if (group) group.push(occurrence);
    else groups.set(key, [occurrence]);
  }
  return groups;
}

/** Which digest goes after which reference in which file. Pure: the same scan and resolutions give the same plan. */
export function planPins(scan: UnpinnedScan, resolutions: ReadonlyMap<string, TagResolution>): PinPlan {
  const pins: PinAddition[] = [];
  const failed: PinLookupFailure[] = [];
  const heldBack: PinHeldBack[] = [];
  const insertions = new Map<string, DigestInsertion[]>();
  for (const [key, occurrences] of groupUnpinned(scan.unpinned)) {
    const first = occurrences[0]!.reference;
    const image = { registry: first.registry, repository: first.repository };
    const resolution = resolutions.get(key) ?? { ok: false as const, reason: "not looked up" };
    if (!resolution.ok) {
      if (resolution.heldBack) heldBack.push({ image, tag: first.tag, digest: resolution.heldBack, reason: resolution.reason, occurrences });
      else failed.push({ image, tag: first.tag, reason: resolution.reason, occurrences });
      continue;
    }
    pins.push({
      image,
      tag: first.tag,
      digest: resolution.digest,
      kind: resolution.kind,
      ...(resolution.platform ? { platform: resolution.platform } : {}),
      occurrences,
    });
    for (const occurrence of occurrences) {
      const fileInsertions = insertions.get(occurrence.path) ?? [];
      fileInsertions.push({ offset: occurrence.offset, reference: occurrence.text, digest: resolution.digest });
      insertions.set(occurrence.path, fileInsertions);
    }
  }
  for (const list of insertions.values()) list.sort((a, b) => a.offset - b.offset);
  const byName = (a: { image: ImageName; tag: string }, b: typeof a) => tagKey(a.image, a.tag).localeCompare(tagKey(b.image, b.tag));
  return {
    pins: pins.sort(byName),
    failed: failed.sort(byName),
    heldBack: heldBack.sort(byName),
    unpinnable: [...scan.unpinnable],
    insertions: new Map([...insertions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
}
