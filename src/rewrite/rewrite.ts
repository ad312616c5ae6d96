import type { DigestEdit } from "../plan/types.js";
import { DIGEST_LENGTH, isDigest } from "../reference/digest.js";
import { quoteInput } from "../reference/errors.js";
import { shortDigest } from "../reference/format.js";

/** The text no longer holds what an edit expects: the file changed after it was scanned. */
export class StaleEditError extends Error {
  override readonly name = "StaleEditError";
}

/**
 * Replaces the digest at each edit's `digestOffset` (exactly 71 characters) with its `to`, after checking
 * that the text there is still its `from`. Every other character is kept as it was. Throws, changing nothing,
 * if any edit does not fit the text.
 */
export function applyDigestEdits(text: string, edits: readonly DigestEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.digestOffset - b.digestOffset);
  let previousEnd = 0;
  for (const edit of sorted) {
    const { digestOffset: offset } = edit;
    if (!isDigest(edit.to)) throw new Error(`cannot write ${quoteInput(String(edit.to))} at byte ${offset}: not a sha256 digest`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + DIGEST_LENGTH > text.length) {
      throw new StaleEditError(`no digest at byte ${offset}: the file is shorter than when it was scanned; scan again`);
    }
    if (offset < previousEnd) throw new Error(`two edits overlap at byte ${offset}; each digest may be edited once`);
    if (text.slice(offset, offset + DIGEST_LENGTH) !== edit.from) {
      throw new StaleEditError(
        `the digest at byte ${offset} is no longer ${shortDigest(edit.from)}: the file changed since it was scanned; scan again`,
      );
    }
    previousEnd = offset + DIGEST_LENGTH;
  }
  const parts: string[] = [];
  let position = 0;
  for (const edit of sorted) {
    parts.push(text.slice(position, edit.digestOffset), edit.to);
    position = edit.digestOffset + DIGEST_LENGTH;
  }
  parts.push(text.slice(position));
  return parts.join("");
}
