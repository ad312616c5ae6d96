import { isDigest } from "../reference/digest.js";
import type { Digest } from "../reference/types.js";
import { RegistryError } from "./errors.js";
import { ShapeError, array, object, string } from "./json-shape.js";
import type { TagHistoryEntry } from "./types.js";

/** Largest tag-history answer we read; years of nightly builds fit in well under this. */
export const MAX_HISTORY_BYTES = 8 * 1024 * 1024;

/** RFC 3339 with an offset (or Z), with or without seconds and their fractions. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** Validates Chainguard's `{"history":[{"updateTimestamp","digest"}]}` and sorts it oldest first. */
export function parseTagHistory(json: unknown, what: string): TagHistoryEntry[] {
  let entries: TagHistoryEntry[];
  try {
    entries = array(object(json)["history"], ["history"], 1_000_000).map((value, i) => {
      const entry = object(value, ["history", i]);
      const stamp = string(entry["updateTimestamp"], ["history", i, "updateTimestamp"], 64);
      const updateTimestamp = new Date(stamp);
      if (!RFC3339.test(stamp) || Number.isNaN(updateTimestamp.getTime())) {
        throw new ShapeError(["history", i, "updateTimestamp"], "not an RFC 3339 date and time with an offset");
      }
      const digest = string(entry["digest"], ["history", i, "digest"]);
      if (!isDigest(digest)) throw new ShapeError(["history", i, "digest"], "not a sha256 digest");
      return { updateTimestamp, digest: digest as Digest };
    });
  } catch (error) {
    if (!(error instanceof ShapeError)) throw error;
    const where = error.path.length > 0 ? ` at ${error.path.join(".")}` : "";
    throw new RegistryError("BAD_RESPONSE", `${what}: the tag history is malformed${where} (${error.problem})`);
  }
  return entries.sort((a, b) => a.updateTimestamp.getTime() - b.updateTimestamp.getTime());
}

/**
 * The digest the tag pointed to at `time`: the last update at or before it, undefined if the history
 * starts later. `history` must be sorted oldest first, as `tagHistory` returns it.
 */
export function digestAt(history: readonly TagHistoryEntry[], time: Date): Digest | undefined {
  const at = time.getTime();
  let low = 0;
  let high = history.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (history[mid]!.updateTimestamp.getTime() <= at) low = mid + 1;
    else high = mid;
  }
  return low === 0 ? undefined : history[low - 1]!.digest;
}
