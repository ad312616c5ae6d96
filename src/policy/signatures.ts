import pLimit from "p-limit";
import { groupUnpinned, type TagResolution } from "../pin/plan.js";
import type { UnpinnedOccurrence } from "../pin/types.js";
import { groupPins } from "../plan/plan.js";
import type { PinResolution } from "../plan/types.js";
import { imageKey } from "../reference/format.js";
import type { Digest, ImageName } from "../reference/types.js";
import type { PinnedOccurrence } from "../scan/types.js";
import type { SignatureSource } from "../verify/source.js";
import { describeVerdict, type Verdict } from "../verify/types.js";

/** How every reason a signature hold-back gives starts: how a report tells it from a pin skipped by `ignore`. */
export const SIGNATURE_REASON = "signature: ";

/** Images checked at once (each is a few registry requests). */
const CHECK_CONCURRENCY = 8;

export interface SignatureCheck {
  /** The resolutions, with a digest that did not verify held back when verification is required. */
  readonly resolutions: Map<string, PinResolution>;
  /** The verdict on each proposed digest a rule names, by `registry/repository@digest`. */
  readonly verdicts: Map<string, Verdict>;
}

/** The key of a verdict: the image and the digest proposed for it. */
export const verdictKey = (image: Parameters<typeof imageKey>[0], digest: string): string => `${imageKey(image)}@${digest}`;

/** A digest about to be proposed for an image, under the key its resolution is kept by. */
export interface Proposed {
  readonly key: string;
  readonly image: ImageName;
  readonly digest: Digest;
}

/** The verdict on each proposed digest a rule names, by the proposal's key; a few images checked at once. */
export async function verdictsOf(proposed: readonly Proposed[], source: SignatureSource): Promise<Map<string, Verdict>> {
  const verdicts = new Map<string, Verdict>();
  const limit = pLimit(CHECK_CONCURRENCY);
  await Promise.all(
    proposed.map(({ key, image, digest }) =>
      limit(async () => {
        const verdict = await source.verdictOf(image, digest);
        if (verdict) verdicts.set(key, verdict);
      }),
    ),
  );
  return verdicts;
}

/** The verdicts by key turned into verdicts by `registry/repository@digest`, as reports look them up. */
function byImage(proposed: readonly Proposed[], verdicts: ReadonlyMap<string, Verdict>): Map<string, Verdict> {
  const shown = new Map<string, Verdict>();
  for (const { key, image, digest } of proposed) {
    const verdict = verdicts.get(key);
    if (verdict) shown.set(verdictKey(image, digest), verdict);
  }
  return shown;
}

/**
 * Checks the signature of every digest a pin would move to. With `required`, a digest that does not verify (not
 * signed, invalid, or not checkable) is held back like the cooldown holds one back: skipped, with the verdict as reason.
 */
export async function checkSignatures(
  pins: readonly PinnedOccurrence[],
  resolutions: ReadonlyMap<string, PinResolution>,
  source: SignatureSource,
  options: { readonly required: boolean },
): Promise<SignatureCheck> {
  const proposed: (Proposed & { readonly pinned: Digest })[] = [];
  for (const [key, [first]] of groupPins(pins)) {
    const resolution = resolutions.get(key);
    const ref = first!.reference;
    if (!resolution?.ok || resolution.current === ref.digest || !ref.digest) continue;
    proposed.push({ key, image: { registry: ref.registry, repository: ref.repository }, digest: resolution.current, pinned: ref.digest });
  }
  const verdicts = await verdictsOf(proposed, source);
  const result = new Map(resolutions);
  for (const { key, image, digest, pinned } of proposed) {
    const verdict = verdicts.get(key);
    const resolution = resolutions.get(key);
    if (!options.required || !verdict || verdict.status === "verified" || !resolution?.ok) continue;
    const held = `${SIGNATURE_REASON}${describeVerdict(verdict)} (new digest ${digest})`;
    // A pin whose own digest is gone stays reported as vanished (a deploy from it fails), with why it is not moved.
    result.set(
      key,
      resolution.vanished
        ? { ok: false, vanished: resolution.vanished, reason: `the pinned digest ${pinned} no longer exists on ${image.registry}; the tag leads to a digest held back: ${held}` }
        : { ok: false, skip: true, reason: held },
    );
  }
  return { resolutions: result, verdicts: byImage(proposed, verdicts) };
}

export interface PinSignatureCheck {
  /** The resolutions, with a tag whose digest did not verify held back when verification is required. */
  readonly resolutions: Map<string, TagResolution>;
  /** The verdict on each digest a tag would be pinned to that a rule names, by `registry/repository@digest`. */
  readonly verdicts: Map<string, Verdict>;
}

/**
 * The same check for pinning: each digest a tag written without one would be pinned to. With `required`, a digest
 * that does not verify is not pinned; the tag is held back with the verdict as the reason.
 */
export async function checkPinSignatures(
  unpinned: readonly UnpinnedOccurrence[],
  resolutions: ReadonlyMap<string, TagResolution>,
  source: SignatureSource,
  options: { readonly required: boolean },
): Promise<PinSignatureCheck> {
  const proposed: Proposed[] = [];
  for (const [key, [first]] of groupUnpinned(unpinned)) {
    const resolution = resolutions.get(key);
    const ref = first!.reference;
    if (resolution?.ok) proposed.push({ key, image: { registry: ref.registry, repository: ref.repository }, digest: resolution.digest });
  }
  const verdicts = await verdictsOf(proposed, source);
  const result = new Map(resolutions);
  for (const { key, digest } of proposed) {
    const verdict = verdicts.get(key);
    if (!options.required || !verdict || verdict.status === "verified") continue;
    result.set(key, { ok: false, heldBack: digest, reason: `${SIGNATURE_REASON}${describeVerdict(verdict)} (digest ${digest})` });
  }
  return { resolutions: result, verdicts: byImage(proposed, verdicts) };
}
