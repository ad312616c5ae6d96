import { InvalidReferenceError } from "./errors.js";
import type { Digest } from "./types.js";

/** Length of `sha256:` followed by 64 hex digits. */
export const DIGEST_LENGTH = 71;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(text: string): text is Digest {
  return text.length === DIGEST_LENGTH && DIGEST.test(text);
}

export function parseDigest(text: string): Digest {
  if (isDigest(text)) return text;
  throw new InvalidReferenceError(text, digestProblem(text), "digest");
}

/** Why `text` is not a digest (assumes it is not one). */
export function digestProblem(text: string): string {
  if (!text.startsWith("sha256:")) return "only sha256 digests are supported (expected sha256: followed by 64 hex digits)";
  const hex = text.slice(7);
  if (!/^[0-9a-fA-F]*$/.test(hex)) return "digest must be sha256: followed by 64 hex digits (found a non-hex character)";
  if (hex.length !== 64) return `digest must have 64 hex digits after sha256:, not ${hex.length}`;
  return "digest hex must be lowercase";
}
