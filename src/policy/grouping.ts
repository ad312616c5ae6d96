import type { DigestEdit, ImageUpdate, PinFailure, UpdatePlan, VanishedPin } from "../plan/types.js";
import { imageKey } from "../reference/format.js";

/** Every branch digesta owns starts with this. */
export const BRANCH_PREFIX = "digesta/";
/** The branch of the default grouping: everything in one pull request. */
export const ALL_BRANCH = `${BRANCH_PREFIX}update-digests`;
/** The branch of the pull request pinning references written without a digest (`pin: true`). */
export const PIN_BRANCH = `${BRANCH_PREFIX}pin-digests`;

/** What one pull request carries: the updates of its group, the failures that concern it, and the bytes to change. */
export interface UpdateGroup {
  /** `all`, or the image's `registry/repository`. */
  readonly key: string;
  readonly branch: string;
  readonly updates: readonly ImageUpdate[];
  readonly failed: readonly PinFailure[];
  /** Pins of the group whose digest or tag the registry no longer has (said first in the pull request). */
  readonly vanished: readonly VanishedPin[];
  /** Edits per file path, sorted by offset. */
  readonly edits: ReadonlyMap<string, readonly DigestEdit[]>;
}

/**
 * Splits a plan into pull requests: one for everything (`all`), or one per image repository (`image`). Groups with
 * failures or vanished pins but no update are kept (with no edits), so that their open pull request is not taken
 * for obsolete.
 */
export function groupUpdates(plan: UpdatePlan, mode: "all" | "image"): UpdateGroup[] {
  if (mode === "all") {
    if (plan.updates.length === 0 && plan.failed.length === 0 && plan.vanished.length === 0) return [];
    return [makeGroup("all", ALL_BRANCH, plan.updates, plan.failed, plan.vanished)];
  }
  const keys = new Set([...plan.updates, ...plan.failed, ...plan.vanished].map((u) => imageKey(u.image)));
  const of = <T extends { image: { registry: string; repository: string } }>(list: readonly T[], key: string) => list.filter((u) => imageKey(u.image) === key);
  return [...keys]
    .sort()
    .map((key) => makeGroup(key, imageBranch(key), of(plan.updates, key), of(plan.failed, key), of(plan.vanished, key)));
}

/** A group as committed when some of its files are left out, and the moves that were therefore not made at all. */
export interface CommittedGroup {
  /** The group with only the places, edits and updates in files actually committed. */
  readonly group: UpdateGroup;
  /** Updates every place of which is in a left-out file: proposed nowhere, so never counted as moved. */
  readonly notMoved: readonly ImageUpdate[];
}

/**
 * What a group's commit changes once `leftOut` files (workflows, without the Workflows permission) are taken out: an
 * update keeps the places still committed; one left with none is not moved. The pull request's title, table and
 * commit message are written from this, so they never claim a move the commit does not make.
 */
export function withoutFiles(group: UpdateGroup, leftOut: readonly string[]): CommittedGroup {
  if (leftOut.length === 0) return { group, notMoved: [] };
  const { kept: updates, notMoved } = keptOutside(group.updates, leftOut);
  const out = new Set(leftOut);
  const edits = new Map([...group.edits].filter(([path]) => !out.has(path)));
  return { group: { ...group, updates, edits }, notMoved };
}

/**
 * Each change (a move, a pin) with only its places outside `leftOut` files; a change with no place left is not made
 * (`notMoved`).
 */
export function keptOutside<T extends { readonly occurrences: readonly { readonly path: string }[] }>(
  changes: readonly T[],
  leftOut: readonly string[],
): { kept: T[]; notMoved: T[] } {
  const out = new Set(leftOut);
  const kept: T[] = [];
  const notMoved: T[] = [];
  for (const change of changes) {
    const occurrences = change.occurrences.filter((o) => !out.has(o.path));
    if (occurrences.length === 0) notMoved.push(change);
    else kept.push(occurrences.length === change.occurrences.length ? change : { ...change, occurrences });
  }
  return { kept, notMoved };
}

/** Identifies one update (one pin moving) across groups and outcomes. */
export function updateKey(update: ImageUpdate): string {
  return `${imageKey(update.image)}:${update.tag}@${update.from}`;
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

function makeGroup(
  key: string,
  branch: string,
  updates: readonly ImageUpdate[],
  failed: readonly PinFailure[],
  vanished: readonly VanishedPin[],
): UpdateGroup {
  const edits = new Map<string, DigestEdit[]>();
  for (const update of updates) {
    for (const occurrence of update.occurrences) {
      const list = edits.get(occurrence.path) ?? [];
      list.push({ digestOffset: occurrence.digestOffset, from: update.from, to: update.to });
      edits.set(occurrence.path, list);
    }
  }
  for (const list of edits.values()) list.sort((a, b) => a.digestOffset - b.digestOffset);
  return { key, branch, updates, failed, vanished, edits: new Map([...edits].sort(([a], [b]) => a.localeCompare(b))) };
}
