import { createHash } from "node:crypto";
import type { ImageUpdate, PinFailure, VanishedPin } from "../plan/types.js";
import { familiarName, formatPlatform, imageKey, shortDigest } from "../reference/format.js";
import type { UpdateGroup } from "../policy/grouping.js";
import type { Digest, ImageName } from "../reference/types.js";
import { CONFIG_PATH } from "../config/schema.js";
import { visible } from "../text/visible.js";
import { describeVerdict, type Verdict } from "../verify/types.js";

/** GitHub refuses pull request bodies over 65 536 characters; stay clear of it. */
export const MAX_BODY_LENGTH = 65_000;
/** First line of every body digesta writes: how it finds its own pull requests again. */
export const PULL_REQUEST_MARKER = "<!-- digesta:pull-request -->";
const PROPOSAL_MARKER = /<!-- digesta:proposal=([0-9a-f]{16}) -->/;
const MAX_PLACES = 8;

export interface PullRequestInput {
  readonly group: UpdateGroup;
  /** When each new image was built, by `registry/repository@digest`. */
  readonly builtAt?: ReadonlyMap<string, Date>;
  /** Files changed on the default branch that the commit leaves out (workflows without the permission). */
  readonly leftOut?: readonly string[];
  /** Moves pinned only in left-out files: listed apart, not in the table. */
  readonly notMoved?: readonly ImageUpdate[];
  /** Pins held back on purpose (cooldown, a signature that did not verify), one line each. */
  readonly heldBack?: readonly { readonly name: string; readonly reason: string }[];
  /** The signature verdict on each proposed digest a `verify` rule names, by `registry/repository@digest`. */
  readonly signatures?: ReadonlyMap<string, Verdict>;
  /** Markdown of the package diffs, rendered within the budget given. */
  readonly renderDiffs?: (budget: number) => string;
}

/** Identifies what a pull request proposes (each image and tag and the digest it moves to), whatever the wording. */
export function proposalId(updates: readonly Pick<ImageUpdate, "image" | "tag" | "to">[]): string {
  const lines = updates.map((u) => `${imageKey(u.image)}:${u.tag}@${u.to}`).sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 16);
}

/** The proposal id written in a body by `renderPullRequest`, if any. */
export function proposalIdOf(body: string | null | undefined): string | undefined {
  return body ? PROPOSAL_MARKER.exec(body)?.[1] : undefined;
}

export function renderTitle(group: UpdateGroup): string {
  const updates = group.updates;
  if (updates.length === 1) return `Update ${familiarName(updates[0]!.image)}:${updates[0]!.tag} digest`;
  const images = new Set(updates.map((u) => imageKey(u.image)));
  if (images.size === 1) return `Update ${familiarName(updates[0]!.image)} digests (${updates.length} tags)`;
  return `Update digests of ${images.size} images`;
}

/**
 * The body: what moves (table: image, tag, old → new, where pinned, when built), the full digests, what was left out
 * or could not be checked, the package diffs, and the commands. Always under GitHub's limit: the table and the lists
 * are cut with a count of what was left out, and the diffs get whatever room remains.
 */
export function renderBody(input: PullRequestInput): string {
  const { group } = input;
  const head = [PULL_REQUEST_MARKER, `<!-- digesta:proposal=${proposalId(group.updates)} -->`, ""];
  // First: a deploy from these pins fails, or nothing can move them.
  if (group.vanished.length > 0) head.push(...vanishedSection(group.vanished), "");
  head.push(
    group.updates.length === 1
      ? "digesta found a newer digest for the tag below: the tag now points to a different image."
      : `digesta found newer digests for the ${group.updates.length} tags below: each tag now points to a different image.`,
    "",
  );

  const tail = leftOutSection(
    input.leftOut ?? [],
    "pin the same images",
    "Pinned only in those files, so not moved by this pull request:",
    (input.notMoved ?? []).map((u) => `${code(`${familiarName(u.image)}:${u.tag}`)}: ${code(shortDigest(u.from))} → ${code(shortDigest(u.to))}`),
  );
  if (group.failed.length > 0) {
    tail.push("### Could not check", ...limitList(group.failed.map(failureLine)), "");
  }
  tail.push(
    ...signaturesSection(
      group.updates.map((u) => ({ image: u.image, digest: u.to })),
      input.signatures,
    ),
    ...heldBackSection(input.heldBack ?? []),
  );
  const commands = [
    "### Commands",
    "- Comment `/digesta refresh` to check the tags again now.",
    "- Comment `/digesta help` for the other commands.",
    "",
    `Settings (images to ignore, schedule, grouping, cooldown) live in ${code(CONFIG_PATH)}. This pull request is ` +
      "updated in place while it is open; digesta leaves the branch alone once someone else pushes to it.",
  ];

  const fixedLength = [...head, ...tail, ...commands].join("\n").length + 200;
  const tableBudget = Math.floor((MAX_BODY_LENGTH - fixedLength) / 2);
  const table = renderTable(group.updates, input.builtAt, tableBudget);
  const details = renderFullDigests(group.updates, Math.floor(tableBudget / 2));
  let body = `${[...head, table, "", details, "", ...tail].join("\n").trimEnd()}\n\n`;

  const diffBudget = MAX_BODY_LENGTH - body.length - commands.join("\n").length - 50;
  if (input.renderDiffs && diffBudget > 500) {
    const diffs = input.renderDiffs(diffBudget);
    if (diffs.trim() !== "" && diffs.length <= diffBudget) body += `${diffs}\n\n`;
  }
  body += commands.join("\n");
  return fitBody(body);
}

/** A body or comment as it is when within GitHub's limit, else cut to it with a line saying so: the last safeguard. */
export function fitBody(body: string): string {
  return body.length <= MAX_BODY_LENGTH ? body : `${body.slice(0, MAX_BODY_LENGTH - 40)}\n\n… (cut to fit GitHub's limit)`;
}

function renderTable(updates: readonly ImageUpdate[], builtAt: ReadonlyMap<string, Date> | undefined, budget: number): string {
  const header = ["| Image | Tag | Digest | Pinned in | Built |", "| --- | --- | --- | --- | --- |"];
  const rows = linesWithin(budget - header.join("\n").length, updates, (u) => {
    const built = builtAt?.get(`${imageKey(u.image)}@${u.to}`);
    return `| ${code(familiarName(u.image))} | ${code(u.tag)} | ${code(shortDigest(u.from))} → ${code(shortDigest(u.to))} | ${places(u)} | ${
      built ? built.toISOString().slice(0, 16).replace("T", " ") + " UTC" : "unknown"
    } |`;
  }, (more) => `| … and ${more} more | | | | |`);
  return [...header, ...rows].join("\n");
}

function renderFullDigests(updates: readonly ImageUpdate[], budget: number): string {
  const lines = linesWithin(
    budget,
    updates,
    (u) => `- ${code(`${imageKey(u.image)}:${u.tag}`)}${u.platform ? ` (${formatPlatform(u.platform)})` : ""}\n  ${code(u.from)} →\n  ${code(u.to)}`,
    (more) => `- … and ${more} more`,
  );
  return fullDigestsSection(lines);
}

/** The "Full digests" fold around its lines. */
export function fullDigestsSection(lines: readonly string[]): string {
  return ["<details><summary>Full digests</summary>", "", ...lines, "", "</details>"].join("\n");
}

/** One line per item while they fit in `budget` characters, then one line counting the rest. */
export function linesWithin<T>(budget: number, items: readonly T[], line: (item: T) => string, more: (count: number) => string): string[] {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; i < items.length; i++) {
    const next = line(items[i]!);
    if (length + next.length + 1 > budget) {
      lines.push(more(items.length - i));
      break;
    }
    lines.push(next);
    length += next.length + 1;
  }
  return lines;
}

function places(update: ImageUpdate): string {
  return placesOf(update.occurrences);
}

/** Where something is written, one `path:line` a line, the first few and a count of the rest. */
export function placesOf(occurrences: readonly { readonly path: string; readonly line: number }[]): string {
  const all = occurrences.map((o) => code(`${o.path}:${o.line}`));
  const shown = all.slice(0, MAX_PLACES).join("<br>");
  return all.length > MAX_PLACES ? `${shown}<br>and ${all.length - MAX_PLACES} more` : shown;
}

/**
 * The workflow files a commit leaves out (no Workflows permission) and what was therefore not changed: `files` says
 * what the files do ("pin the same images"), `notChangedIntro` and `notChanged` (Markdown lines) what was left.
 */
export function leftOutSection(leftOut: readonly string[], files: string, notChangedIntro: string, notChanged: readonly string[]): string[] {
  if (leftOut.length === 0) return [];
  const lines = [
    "### Left out",
    `These files ${files} but are not changed here: they are GitHub Actions workflows, and changing them needs the ` +
      "app's **Workflows** permission, which this installation has not granted. Update them by hand, or grant the " +
      "permission.",
    "",
    ...limitList(leftOut.map((p) => `- ${code(p)}`)),
    "",
  ];
  if (notChanged.length > 0) lines.push(notChangedIntro, "", ...limitList(notChanged.map((line) => `- ${line}`)), "");
  return lines;
}

/**
 * The pins whose digest or tag the registry no longer has, with what to do: said first in a pull request, and in the
 * issue digesta opens when no pull request carries them.
 */
export function vanishedSection(vanished: readonly VanishedPin[]): string[] {
  return [
    "### Vanished from the registry",
    "The registry no longer has what these pins name: a deploy from a pin whose digest is gone fails, and a pin whose " +
      "tag is gone can no longer be kept fresh. Where the tag still leads somewhere, digesta moves the pin there.",
    "",
    ...limitList(vanished.map(vanishedLine)),
  ];
}

function vanishedLine(pin: VanishedPin): string {
  const name = code(`${familiarName(pin.image)}:${pin.tag}@${shortDigest(pin.digest)}`);
  const where = pin.occurrences.slice(0, 3).map((o) => code(`${o.path}:${o.line}`)).join(", ");
  const more = pin.occurrences.length > 3 ? ` and ${pin.occurrences.length - 3} more` : "";
  const moved = pin.movedTo ? ` Moved to ${code(shortDigest(pin.movedTo))}.` : "";
  return `- ${name} (${VANISHED_WORDS[pin.vanished]}) in ${where}${more}: ${inline(pin.reason)}${moved}`;
}

const VANISHED_WORDS: Record<VanishedPin["vanished"], string> = {
  digest: "digest gone",
  tag: "tag gone",
  "tag-and-digest": "tag and digest gone",
};

/**
 * "Signatures": each proposed digest's verdict, for the images a `verify` rule names (one line per image and digest),
 * in the update and the pin pull request alike. Nothing when no rule named any.
 */
export function signaturesSection(
  proposed: readonly { readonly image: ImageName; readonly digest: Digest }[],
  verdicts: ReadonlyMap<string, Verdict> | undefined,
): string[] {
  const lines = new Map<string, string>();
  for (const { image, digest } of proposed) {
    const key = `${imageKey(image)}@${digest}`;
    const verdict = verdicts?.get(key);
    if (!verdict || lines.has(key)) continue;
    const mark = verdict.status === "verified" ? "✅" : verdict.status === "error" ? "❔" : "❌";
    // Identities and names in code: copied exactly, and no `@` in them mentions anyone.
    const said =
      verdict.status === "verified"
        ? `verified by ${code(verdict.by)}${verdict.dockerReference ? ` (signed as ${code(verdict.dockerReference)})` : ""}`
        : inline(describeVerdict(verdict));
    lines.set(key, `- ${mark} ${code(`${familiarName(image)}@${shortDigest(digest)}`)}: ${said}`);
  }
  return lines.size > 0 ? ["### Signatures", ...limitList([...lines.values()]), ""] : [];
}

/** "Held back": what a policy (cooldown, a signature that did not verify) kept out of the proposal, one line each. */
export function heldBackSection(heldBack: readonly { readonly name: string; readonly reason: string }[]): string[] {
  return heldBack.length > 0 ? ["### Held back", ...limitList(heldBack.map((h) => `- ${code(h.name)}: ${inline(h.reason)}`)), ""] : [];
}

function failureLine(failure: PinFailure): string {
  return `- could not check ${code(`${familiarName(failure.image)}:${failure.tag}`)}: ${inline(failure.reason)}`;
}

/** The first `max` lines of a list, then one line counting the rest. */
export function limitList(lines: readonly string[], max = 50): string[] {
  return lines.length > max ? [...lines.slice(0, max), `- … and ${lines.length - max} more`] : [...lines];
}

/**
 * Text from a repository or a registry shown as code: HTML-escaped inside `<code>` so that no backtick, pipe,
 * mention or tag in a file name can break out of the table or ping anyone.
 */
export function code(text: string): string {
  return `<code>${escapeHtml(visible(text.slice(0, 300)))}</code>`;
}

/** Free text from a registry or the network, on one line, escaped, mentions defused, bounded. */
export function inline(text: string): string {
  const line = visible(text.replace(/\s+/g, " ")).trim();
  const bounded = line.length > 300 ? `${line.slice(0, 297)}…` : line;
  return escapeHtml(bounded).replace(/@/g, "@\u200b");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"'|`\\*_[\]]/g, (c) => `&#${c.charCodeAt(0)};`);
}
