import type { Digest, ImageName } from "../reference/types.js";
import type { Registry } from "../registry/types.js";
import type { SignerCheck } from "./rules.js";
import type { SignatureSourceOptions } from "./source.js";
import type { Verdict } from "./types.js";

/** Keyless (Sigstore) verification of `name@digest`. */
export async function verifyKeyless(
  _registry: Registry,
  _name: ImageName,
  _digest: Digest,
  _check: Extract<SignerCheck, { kind: "keyless" }>,
  _options: SignatureSourceOptions,
): Promise<Verdict> {
  return { status: "error", reason: "keyless verification is not available in this build" };
}
