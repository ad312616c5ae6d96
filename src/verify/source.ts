import { errorLine } from "../errors/error-line.js";
import { imageKey } from "../reference/format.js";
import type { Digest, ImageName } from "../reference/types.js";
import type { Registry } from "../registry/types.js";
import { verifyImage } from "./registry.js";
import { compileRules, describeCheck, ruleFor, type CompiledRule, type SignerCheck, type VerifySettings } from "./rules.js";
import type { Verdict } from "./types.js";

/** Where signatures are looked for and checked: beside the SBOM and vulnerability sources, one per configuration. */
export interface SignatureSource {
  /** The verdict on `image@digest` by the first rule naming the image; undefined when no rule does. Never throws. */
  verdictOf(image: ImageName, digest: Digest): Promise<Verdict | undefined>;
}

export interface SignatureSourceOptions {
  /** A Sigstore trusted root (JSON file) instead of the public-good one digesta ships: a private Sigstore, or a pinned copy. */
  readonly trustedRoot?: string;
  /**
   * Verdicts kept beyond this source, by signer, image and digest: a sweep checks an image pinned by many
   * repositories once per signer they ask for, not once per repository.
   */
  readonly verdicts?: Map<string, Promise<Verdict>>;
}

/**
 * Checks images against the configuration's `verify.images` rules: cosign `.sig` signatures for a key; Sigstore
 * bundles (OCI referrers) and cosign keyless signatures for an identity. The Sigstore code is loaded only when a
 * keyless rule has an image to check. Each image and digest is checked once per signer (per source, or per
 * `verdicts` map when one is shared).
 */
export function createSignatureSource(registry: Registry, settings: VerifySettings, options: SignatureSourceOptions = {}): SignatureSource | undefined {
  if (settings.images.length === 0) return undefined;
  const rules = compileRules(settings.images);
  const verdicts = options.verdicts ?? new Map<string, Promise<Verdict>>();
  return {
    verdictOf(image, digest) {
      const rule = ruleFor(rules, image);
      if (!rule) return Promise.resolve(undefined);
      const key = `${describeCheck(rule.check)}\n${imageKey(image)}@${digest}`;
      let verdict = verdicts.get(key);
      if (!verdict) {
        verdict = check(registry, rule, image, digest, options).catch((error: unknown): Verdict => ({ status: "error", reason: errorLine(error) }));
        verdicts.set(key, verdict);
      }
      return verdict;
    },
  };
}

async function check(registry: Registry, rule: CompiledRule, image: ImageName, digest: Digest, options: SignatureSourceOptions): Promise<Verdict> {
  const signer: SignerCheck = rule.check;
  if (signer.kind === "key") return verifyImage(registry, image, digest, signer.key);
  const { verifyKeyless } = await import("./keyless.js");
  return verifyKeyless(registry, image, digest, signer, options);
}
