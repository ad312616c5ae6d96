import { isDigest } from "../reference/digest.js";
import { quoteInput } from "../reference/errors.js";
import type { Digest } from "../reference/types.js";
import { StaleEditError } from "./rewrite.js";

/** `@digest` appended to the reference written at `offset`. */
export interface DigestInsertion {
  /** Byte offset of the reference's first character. */
  readonly offset: number;
  /** The reference as the scan saw it there (`nginx:1.25`). */
  readonly reference: string;
  readonly digest: Digest;
}

/** Characters that would continue a reference: one that is followed by any of these is no longer the one scanned. */
const CONTINUES = /[A-Za-z0-9._\-/:@]/;

/**
 * Appends `@digest` after each insertion's reference, after checking that the text there is still exactly that
 * reference, whole (not now followed by more of a name, a tag or a digest). Every other byte is kept. Throws,
 * changing nothing, if any insertion does not fit the text.
 */
export function applyDigestInsertions(text: string, insertions: readonly DigestInsertion[]): string {
  const sorted = [...insertions].sort((a, b) => a.offset - b.offset);
  let previousEnd = 0;
  for (const { offset, reference, digest } of sorted) {
    if (!isDigest(digest)) throw new Error(`cannot write ${quoteInput(String(digest))} at byte ${offset}: not a sha256 digest`);
    const end = offset + reference.length;
    if (!Number.isSafeInteger(offset) || offset < 0 || reference === "" || end > text.length) {
      throw new StaleEditError(`no reference at byte ${offset}: the file is shorter than when it was scanned; scan again`);
    }
    if (offset < previousEnd) throw new Error(`two insertions overlap at byte ${offset}; each reference may be pinned once`);
    if (text.slice(offset, end) !== reference || (end < text.length && CONTINUES.test(text[end]!))) {
      throw new StaleEditError(`the text at byte ${offset} is no longer ${quoteInput(reference)}: the file changed since it was scanned; scan again`);
    }
    previousEnd = end;
  }
  const parts: string[] = [];
  let position = 0;
  for (const { offset, reference, digest } of sorted) {
    const end = offset + reference.length;
    parts.push(text.slice(position, end), "@", digest);
    position = end;
  }
  parts.push(text.slice(position));
  return parts.join("");
}
