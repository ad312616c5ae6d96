import type { ImageContents } from "../diff/contents.js";
import type { PinAddition, PinHeldBack, PinLookupFailure } from "../pin/plan.js";
import type { Verdict } from "../verify/types.js";
import type { UnpinnableOccurrence } from "../pin/types.js";
import { CONFIG_PATH } from "../config/schema.js";
import { familiarName, formatPlatform, imageKey, shortDigest, tagKey } from "../reference/format.js";
import {
  code,
  fitBody,
  fullDigestsSection,
  heldBackSection,
  inline,
  leftOutSection,
  limitList,
  linesWithin,
  MAX_BODY_LENGTH,
  placesOf,
  proposalId,
  PULL_REQUEST_MARKER,
  signaturesSection,
} from "./pull-request-text.js";

/** Packages listed per image; the rest are counted. */
const MAX_PACKAGES_SHOWN = 300;

export interface PinRequestInput {
  /** The pins the commit makes. */
  readonly pins: readonly PinAddition[];
  /** Tags that could not be looked up. */
  readonly failed: readonly PinLookupFailure[];
  /** Tags not pinned because their digest did not pass a policy (`verify.required`). */
  readonly heldBack?: readonly PinHeldBack[];
  /** The signature verdict on each digest a `verify` rule names, by `registry/repository@digest`. */
  readonly signatures?: ReadonlyMap<string, Verdict>;
  /** References named but not pinnable as written (variables, templates), with why. */
  readonly unpinnable: readonly UnpinnableOccurrence[];
  /** Files that hold references but are not changed (workflows without the permission). */
  readonly leftOut?: readonly string[];
  /** Pins whose every place is a left-out file. */
  readonly notMoved?: readonly PinAddition[];
  /** What each pinned image holds, by `tagKey`. */
  readonly contents?: ReadonlyMap<string, ImageContents>;
}

/** The id of a pin proposal: each image and tag and the digest it is pinned to. */
export function pinProposalId(pins: readonly PinAddition[]): string {
  return proposalId(pins.map((p) => ({ image: p.image, tag: p.tag, to: p.digest })));
}

export function renderPinTitle(pins: readonly PinAddition[]): string {
  return `Pin ${pins.length} image${pins.length === 1 ? "" : "s"} by digest`;
}

/** One commit-message line per pin. */
export function pinCommitLine(pin: PinAddition): string {
  return `${familiarName(pin.image)}:${pin.tag} → ${shortDigest(pin.digest)}`;
}

/**
 * The body of the pin pull request: each image and tag with the digest it is pinned to and where, what could not be
 * looked up or pinned as written, and what each image holds (its packages: there is no previous image to compare it
 * with). Always under GitHub's limit: the lists are cut with a count, the contents get whatever room remains.
 */
export function renderPinBody(input: PinRequestInput): string {
  const { pins } = input;
  const references = pins.reduce((n, p) => n + p.occurrences.length, 0);
  const head = [
    PULL_REQUEST_MARKER,
    `<!-- digesta:proposal=${pinProposalId(pins)} -->`,
    "",
    `These ${references === 1 ? "reference names" : `${references} references name`} ${pins.length === 1 ? "an image" : `${pins.length} images`} ` +
      "by tag alone, so what runs changes whenever the tag moves. This pull request appends the digest each tag points to " +
      "now (every other byte is kept): what runs is then exactly what was reviewed, and digesta proposes each new digest " +
      "with what changed in it.",
    "",
  ];
  const tail = leftOutSection(
    input.leftOut ?? [],
    "name images too",
    "Named only in those files, so not pinned here:",
    (input.notMoved ?? []).map((p) => code(`${familiarName(p.image)}:${p.tag}`)),
  );
  if (input.failed.length > 0) {
    tail.push(
      "### Could not look up",
      ...limitList(input.failed.map((f) => `- ${code(`${familiarName(f.image)}:${f.tag}`)} in ${placesOf(f.occurrences)}: ${inline(f.reason)}`)),
      "",
    );
  }
  tail.push(
    ...signaturesSection(
      pins.map((p) => ({ image: p.image, digest: p.digest })),
      input.signatures,
    ),
    ...heldBackSection((input.heldBack ?? []).map((h) => ({ name: `${familiarName(h.image)}:${h.tag}`, reason: h.reason }))),
  );
  if (input.unpinnable.length > 0) {
    tail.push(
      "### Not pinned as written",
      "digesta pins only what is certainly an image reference as written; these are left for a person:",
      "",
      ...limitList(input.unpinnable.map((u) => `- ${code(`${u.path}:${u.line}`)} ${code(u.text)}: ${inline(u.reason)}`)),
      "",
    );
  }
  const commands = [
    "### Commands",
    "- Comment `/digesta refresh` to look the tags up again now.",
    "",
    `Set \`pin: false\` in ${code(CONFIG_PATH)} to stop proposing pins. This pull request is updated in place while it is ` +
      "open; digesta leaves the branch alone once someone else pushes to it.",
  ];

  const fixedLength = [...head, ...tail, ...commands].join("\n").length + 200;
  const tableBudget = Math.floor((MAX_BODY_LENGTH - fixedLength) / 2);
  let body = `${[...head, pinTable(pins, tableBudget), "", fullDigests(pins, Math.floor(tableBudget / 2)), "", ...tail].join("\n").trimEnd()}\n\n`;
  const contentsBudget = MAX_BODY_LENGTH - body.length - commands.join("\n").length - 50;
  if (input.contents && contentsBudget > 500) {
    const contents = renderContents(pins, input.contents, contentsBudget);
    if (contents) body += `${contents}\n\n`;
  }
  body += commands.join("\n");
  return fitBody(body);
}

function pinTable(pins: readonly PinAddition[], budget: number): string {
  const header = ["| Image | Tag | Digest | Pinned in |", "| --- | --- | --- | --- |"];
  const rows = linesWithin(budget - header.join("\n").length, pins, (p) => {
    const kind = p.platform ? formatPlatform(p.platform) : p.kind === "index" ? "multi-platform index" : "image";
    return `| ${code(familiarName(p.image))} | ${code(p.tag)} | ${code(shortDigest(p.digest))} (${kind}) | ${placesOf(p.occurrences)} |`;
  }, (more) => `| … and ${more} more | | | |`);
  return [...header, ...rows].join("\n");
}

function fullDigests(pins: readonly PinAddition[], budget: number): string {
  return fullDigestsSection(linesWithin(budget, pins, (p) => `- ${code(`${imageKey(p.image)}:${p.tag}`)}\n  ${code(p.digest)}`, (more) => `- … and ${more} more`));
}

/** Each image's packages in a folded section, as many images as `budget` holds. */
function renderContents(pins: readonly PinAddition[], contents: ReadonlyMap<string, ImageContents>, budget: number): string {
  const sections: string[] = [];
  let length = "### Package contents\n".length;
  for (let i = 0; i < pins.length; i++) {
    const pin = pins[i]!;
    const found = contents.get(tagKey(pin.image, pin.tag));
    if (!found) continue;
    let section = contentsSection(pin, found, MAX_PACKAGES_SHOWN);
    // A long list is cut before the section is dropped.
    for (let shown = MAX_PACKAGES_SHOWN / 2; length + section.length > budget && shown >= 10; shown = Math.floor(shown / 2)) {
      section = contentsSection(pin, found, shown);
    }
    if (length + section.length > budget) {
      sections.push(`… and the contents of ${pins.length - i} more image${pins.length - i === 1 ? "" : "s"}, left out to fit.`);
      break;
    }
    sections.push(section);
    length += section.length + 1;
  }
  return sections.length > 0 ? ["### Package contents", ...sections].join("\n") : "";
}

function contentsSection(pin: PinAddition, found: ImageContents, maxShown: number): string {
  const name = `${familiarName(pin.image)}:${pin.tag}`;
  const platform = found.platform ? `, ${formatPlatform(found.platform)}` : "";
  const warnings = found.warnings.map((w) => `> ${inline(w)}`);
  if (!found.packages) return [`<details><summary>${code(name)}: packages unknown${platform}</summary>`, "", ...warnings, "", "</details>"].join("\n");
  const packages = [...found.packages.packages].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  const rows = packages.slice(0, maxShown).map((p) => `| ${code(p.name)} | ${code(p.version)} |`);
  if (packages.length > maxShown) rows.push(`| … and ${packages.length - maxShown} more | |`);
  return [
    `<details><summary>${code(name)}: ${packages.length} package${packages.length === 1 ? "" : "s"} (${found.packages.source}${platform})</summary>`,
    "",
    ...(warnings.length > 0 ? [...warnings, ""] : []),
    "| Package | Version |",
    "| --- | --- |",
    ...rows,
    "",
    "</details>",
  ].join("\n");
}

