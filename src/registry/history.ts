import { z } from "zod";
import { isDigest } from "../reference/digest.js";
import type { Digest } from "../reference/types.js";
import { RegistryError } from "./errors.js";
import type { TagHistoryEntry } from "./types.js";

/** Largest tag-history answer we read; years of nightly builds fit in well under this. */
export const MAX_HISTORY_BYTES = 8 * 1024 * 1024;

const historySchema = z.object({
  history: z
    .array(
      z.object({
        // RFC 3339 with an offset, with or without fractional seconds.
        updateTimestamp: z.iso.datetime({ offset: true }),
        digest: z.string().refine(isDigest, { message: "not a sha256 digest" }),
      }),
    )
    .max(1_000_000),
});

/** Validates Chainguard's `{"history":[{"updateTimestamp","digest"}]}` and sorts it oldest first. */
export function parseTagHistory(json: unknown, what: string): TagHistoryEntry[] {
  const parsed = historySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
    throw new RegistryError("BAD_RESPONSE", `${what}: the tag history is malformed${where}${issue ? ` (${issue.message})` : ""}`);
  }
  return parsed.data.history
    .map((entry) => ({ updateTimestamp: new Date(entry.updateTimestamp), digest: entry.digest as Digest }))
    .sort((a, b) => a.updateTimestamp.getTime() - b.updateTimestamp.getTime());
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
