import type { DigestEdit, ImageUpdate, PinFailure, UpdatePlan } from "../plan/types.js";
import { imageKey } from "../reference/format.js";

/** Every branch digesta owns starts with this. */
export const BRANCH_PREFIX = "digesta/";
/** The branch of the default grouping: everything in one pull request. */
export const ALL_BRANCH = `${BRANCH_PREFIX}update-digests`;

/** What one pull request carries: the updates of its group, the failures that concern it, and the bytes to change. */
export interface UpdateGroup {
  /** `all`, or the image's `registry/repository`. */
  readonly key: string;
  readonly branch: string;
  readonly updates: readonly ImageUpdate[];
  readonly failed: readonly PinFailure[];
  /** Edits per file path, sorted by offset. */
  readonly edits: ReadonlyMap<string, readonly DigestEdit[]>;
}

/**
 * Splits a plan into pull requests: one for everything (`all`), or one per image repository (`image`). Groups with
 * failures but no update are kept (with no edits), so that their open pull request is not taken for obsolete.
 */
export function groupUpdates(plan: UpdatePlan, mode: "all" | "image"): UpdateGroup[] {
  if (mode === "all") {
    if (plan.updates.length === 0 && plan.failed.length === 0) return [];
    return [makeGroup("all", ALL_BRANCH, plan.updates, plan.failed)];
  }
  const keys = new Set([...plan.updates.map((u) => imageKey(u.image)), ...plan.failed.map((f) => imageKey(f.image))]);
  return [...keys].sort().map((key) =>
    makeGroup(
      key,
      imageBranch(key),
      plan.updates.filter((u) => imageKey(u.image) === key),
      plan.failed.filter((f) => imageKey(f.image) === key),
    ),
  );
}

/** `localhost:5000/team/app` → `digesta/image/localhost-5000/team/app`: a valid Git branch name for any image. */
export function imageBranch(key: string): string {
  const safe = key
    .toLowerCase()
    .replace(/[^a-z0-9._/-]+/g, "-")
    .split("/")
    .filter((part) => part !== "")
    .map((part) => part.replace(/\.{2,}/g, ".").replace(/^\./, "_").replace(/\.lock$/, "_lock").replace(/\.$/, "_"))
    .join("/");
  return `${BRANCH_PREFIX}image/${safe}`;
}

function makeGroup(key: string, branch: string, updates: readonly ImageUpdate[], failed: readonly PinFailure[]): UpdateGroup {
  const edits = new Map<string, DigestEdit[]>();
  for (const update of updates) {
    for (const occurrence of update.occurrences) {
      const list = edits.get(occurrence.path) ?? [];
      list.push({ digestOffset: occurrence.digestOffset, from: update.from, to: update.to });
      edits.set(occurrence.path, list);
    }
  }
  for (const list of edits.values()) list.sort((a, b) => a.digestOffset - b.digestOffset);
  return { key, branch, updates, failed, edits: new Map([...edits].sort(([a], [b]) => a.localeCompare(b))) };
}
