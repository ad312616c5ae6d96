import pLimit from "p-limit";
import { groupUnpinned, type TagResolution } from "../pin/plan.js";
import type { UnpinnedOccurrence } from "../pin/types.js";
import { groupPins } from "../plan/plan.js";
import type { PinResolution } from "../plan/types.js";
import { imageKey } from "../reference/format.js";
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
  const result = new Map(resolutions);
  const verdicts = new Map<string, Verdict>();
  const limit = pLimit(CHECK_CONCURRENCY);
  await Promise.all(
    [...groupPins(pins)].map(([key, occurrences]) =>
      limit(async () => {
        const resolution = resolutions.get(key);
        const ref = occurrences[0]!.reference;
        if (!resolution?.ok || resolution.current === ref.digest) return;
        const name = { registry: ref.registry, repository: ref.repository };
        const verdict = await source.verdictOf(name, resolution.current);
        if (!verdict) return;
        verdicts.set(verdictKey(name, resolution.current), verdict);
        if (options.required && verdict.status !== "verified") {
          const held = `${SIGNATURE_REASON}${describeVerdict(verdict)} (new digest ${resolution.current})`;
          // A pin whose own digest is gone stays reported as vanished (a deploy from it fails), with why it is not moved.
          result.set(
            key,
            resolution.vanished
              ? { ok: false, vanished: resolution.vanished, reason: `the pinned digest ${ref.digest} no longer exists on ${ref.registry}; the tag leads to a digest held back: ${held}` }
              : { ok: false, skip: true, reason: held },
          );
        }
      }),
    ),
  );
  return { resolutions: result, verdicts };
}

/**
 * The same check for the pin pull request: each digest a tag written without one would be pinned to. With
 * `required`, a digest that does not verify is not pinned; the tag is listed with the verdict as the reason.
 */
export async function checkPinSignatures(
  unpinned: readonly UnpinnedOccurrence[],
  resolutions: ReadonlyMap<string, TagResolution>,
  source: SignatureSource,
  options: { readonly required: boolean },
): Promise<Map<string, TagResolution>> {
  const result = new Map(resolutions);
  const limit = pLimit(CHECK_CONCURRENCY);
  await Promise.all(
    [...groupUnpinned(unpinned)].map(([key, occurrences]) =>
      limit(async () => {
        const resolution = resolutions.get(key);
        if (!resolution?.ok || !options.required) return;
        const ref = occurrences[0]!.reference;
        const verdict = await source.verdictOf({ registry: ref.registry, repository: ref.repository }, resolution.digest);
        if (verdict && verdict.status !== "verified") {
          result.set(key, { ok: false, reason: `${SIGNATURE_REASON}${describeVerdict(verdict)} (digest ${resolution.digest})` });
        }
      }),
    ),
  );
  return result;
}
