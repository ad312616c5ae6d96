import { formatPlatform } from "../reference/format.js";
import type { AddedPackage, ImageDiff, ImageDiffSource, PackageChange } from "./types.js";
import { visible } from "../text/visible.js";
import { isVulnerabilityId } from "../vuln/osv.js";
import type { SeverityCounts, VulnerabilityDelta, VulnerabilityEntry } from "../vuln/types.js";

export interface RenderOptions {
  /** Maximum length of the result, in characters; default 60 000 (GitHub bodies stop at 65 536). */
  readonly budget?: number;
  /** A line put above the image sections, e.g. "### Package changes" (trusted Markdown, not escaped). */
  readonly heading?: string;
}

const DEFAULT_BUDGET = 60_000;
/** Rows per table tried in turn until the whole text fits the budget; 0 leaves the tables out. */
const ROW_CAPS = [Infinity, 500, 200, 100, 50, 25, 10, 5, 0];
/** No rendered table row is shorter than this: lets the renderer skip caps that cannot fit. */
const MIN_ROW_CHARS = 12;
const MAX_NAME_CHARS = 100;
const MAX_WARNING_CHARS = 300;

const SOURCE_LABELS: Readonly<Record<ImageDiffSource, string>> = {
  "sbom-spdx": "SBOM (SPDX)",
  "sbom-cyclonedx": "SBOM (CycloneDX)",
  apk: "apk database",
  dpkg: "dpkg database",
  rpm: "rpm database",
  none: "no package list",
};

/** Bounded, single-line, no invisible characters: safe to lay out in any output. */
function clean(s: string, max: number): string {
  const head = s.length > max * 2 ? s.slice(0, max * 2) : s;
  const chars = Array.from(visible(head));
  return chars.length > max ? chars.slice(0, max - 1).join("") + "…" : chars.join("");
}

const ENTITIES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };

/**
 * Hostile text made inert in Markdown and HTML alike, in table cells and in `<summary>`: HTML and Markdown
 * syntax become character references, `@` cannot mention anyone, `#123` cannot reference an issue.
 */
export function escapeMarkdown(s: string, max = MAX_NAME_CHARS): string {
  return clean(s, max).replace(/[&<>"'`|\\*_[\]~$!^{}()@]|#(?=\d)/g, (c) => {
    if (c === "@" || c === "#") return `${c}&#8203;`;
    return ENTITIES[c] ?? `&#${c.charCodeAt(0)};`;
  });
}

const shortDigest = (d: string): string => escapeMarkdown(d.replace(/^sha256:/, "").slice(0, 12), 12);

function platformText(diff: ImageDiff): string | undefined {
  return diff.platform && formatPlatform(diff.platform);
}

function sourceText(diff: ImageDiff): string | undefined {
  const s = diff.source;
  if (!s) return undefined;
  return s.previous === s.current ? SOURCE_LABELS[s.previous] : `${SOURCE_LABELS[s.previous]} → ${SOURCE_LABELS[s.current]}`;
}

/** What is wrong with this image's diff when there is nothing to list, or undefined when it has changes. */
function noChangeText(diff: ImageDiff): string | undefined {
  if (diff.unchanged === "same-digest") return "same image, nothing changed";
  if (diff.unchanged === "same-layers") return "same layers, nothing inside changed";
  const { added, removed, changed } = diff.packages;
  if (added.length + removed.length + changed.length > 0) return undefined;
  if (diff.packagesUnknown || !diff.source || diff.source.previous === "none" || diff.source.current === "none") return "package changes unknown";
  return "no package changes";
}

const isMajor = (c: PackageChange): boolean => c.major && c.classification === "upgrade";
/** Changed rows by importance: downgrades, major upgrades, upgrades, distribution updates, rebuilds. */
const importance = (c: PackageChange): number =>
  c.classification === "downgrade" ? 0 : isMajor(c) ? 1 : c.classification === "upgrade" ? 2 : c.classification === "distribution-update" ? 3 : 4;

/** "distribution update" for people; the JSON keeps the hyphenated value. */
const classificationWords = (c: PackageChange): string => c.classification.replace("-", " ");

function classificationText(c: PackageChange): string {
  if (c.classification === "downgrade") return c.major ? "**major downgrade**" : "**downgrade**";
  if (isMajor(c)) return "**major upgrade**";
  return classificationWords(c);
}

function countsText(diff: ImageDiff): string {
  const { added, removed, changed } = diff.packages;
  return `+${added.length} −${removed.length} ~${changed.length}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "2 major updates, 1 downgrade": the changes that need a look, or "" when none do. */
function attentionCounts(changed: readonly PackageChange[]): string {
  const majors = changed.filter(isMajor).length;
  const downgrades = changed.filter((c) => c.classification === "downgrade").length;
  return [majors && plural(majors, "major update"), downgrades && plural(downgrades, "downgrade")].filter(Boolean).join(", ");
}

/** The package's name cell: its type shown when the image mixes package types. */
function nameCell(p: { name: string; type: string }, showType: boolean): string {
  return showType ? `${escapeMarkdown(p.name)} (${escapeMarkdown(p.type, 20)})` : escapeMarkdown(p.name);
}

function moreLine(hidden: number, what: string): string {
  return hidden > 0 ? `\n_…and ${hidden} more ${what}._\n` : "";
}

function headline(diff: ImageDiff): string {
  const tag = diff.tag ? `:${escapeMarkdown(diff.tag)}` : "";
  return `<b>${escapeMarkdown(diff.image, 200)}</b>${tag} <code>${shortDigest(diff.from)}</code> → <code>${shortDigest(diff.to)}</code>`;
}

/** "1 critical, 2 high": the severities a reviewer weighs first, or "" when there are none of those. */
function severeCounts(counts: SeverityCounts): string {
  return [counts.critical && `${counts.critical} critical`, counts.high && `${counts.high} high`].filter(Boolean).join(", ");
}

/** "fixes 3 vulnerabilities (1 critical), introduces 0": the first thing said of an image whose source was asked. */
export function vulnerabilitySummary(delta: VulnerabilityDelta): string {
  const side = (verb: string, list: readonly VulnerabilityEntry[], counts: SeverityCounts, noun: boolean) => {
    const severe = severeCounts(counts);
    return `${verb} ${noun ? plural(list.length, "vulnerability", "vulnerabilities") : list.length}${severe ? ` (${severe})` : ""}`;
  };
  return `${side("fixes", delta.removed, delta.counts.removed, true)}, ${side("introduces", delta.added, delta.counts.added, false)}`;
}

/** A vulnerability id, linked to its OSV page when it looks like an id (anything else is escaped text). */
function vulnerabilityLink(v: VulnerabilityEntry): string {
  const text = escapeMarkdown(v.id, 100);
  return isVulnerabilityId(v.id) ? `[${text}](https://osv.dev/vulnerability/${encodeURIComponent(v.id)})` : text;
}

function vulnerabilityLines(title: string, list: readonly VulnerabilityEntry[], cap: number): string {
  if (list.length === 0 || cap === 0) return "";
  const shown = list.slice(0, cap);
  const rows = shown.map((v) => {
    const alias = v.aliases.find((a) => a.startsWith("CVE-") && a !== v.id);
    const fixed = v.fixed ? `, fixed in ${escapeMarkdown(v.fixed, 60)}` : "";
    return `- ${vulnerabilityLink(v)}${alias ? ` (${escapeMarkdown(alias, 40)})` : ""} · ${v.severity} · ${escapeMarkdown(v.package.name)} ${escapeMarkdown(v.package.version, 60)}${fixed}`;
  });
  return `\n**${title}:**\n${rows.join("\n")}\n${moreLine(list.length - shown.length, `${title.toLowerCase()} vulnerabilities`)}`;
}

function summaryParts(diff: ImageDiff): string {
  const parts = [headline(diff)];
  if (diff.vulnerabilities) parts.push(vulnerabilitySummary(diff.vulnerabilities));
  const none = noChangeText(diff);
  parts.push(none ?? countsText(diff));
  const platform = platformText(diff);
  if (platform) parts.push(escapeMarkdown(platform, 60));
  const source = none === undefined ? sourceText(diff) : undefined;
  if (source) parts.push(source);
  return parts.join(" · ");
}

function warningLines(diff: ImageDiff, cap: number): string {
  if (diff.warnings.length === 0) return "";
  const shown = diff.warnings.slice(0, Math.max(cap, 3));
  const lines = shown.map((w) => `- ⚠️ ${escapeMarkdown(w, MAX_WARNING_CHARS)}`);
  if (diff.warnings.length > shown.length) lines.push(`- …and ${diff.warnings.length - shown.length} more warnings`);
  return lines.join("\n") + "\n";
}

function packageTable(title: string, packages: readonly AddedPackage[], cap: number, showType: boolean): string {
  if (packages.length === 0 || cap === 0) return "";
  const rows = packages.slice(0, cap).map((p) => `| ${nameCell(p, showType)} | ${escapeMarkdown(p.version)} |`);
  return `\n| ${title} | Version |\n|---|---|\n${rows.join("\n")}\n${moreLine(packages.length - rows.length, `${title.toLowerCase()} packages`)}`;
}

function renderSection(diff: ImageDiff, cap: number, open: boolean): string {
  const none = noChangeText(diff);
  if (none !== undefined) {
    const warnings = warningLines(diff, cap);
    return `${summaryParts(diff)}\n${warnings ? `\n${warnings}` : ""}`;
  }
  const { added, removed, changed } = diff.packages;
  const showType = new Set([...added, ...removed, ...changed].map((p) => p.type)).size > 1;
  const out: string[] = [`<details${open ? " open" : ""}>\n<summary>${summaryParts(diff)}</summary>\n`];

  if (diff.vulnerabilities) {
    out.push(vulnerabilityLines("Fixes", diff.vulnerabilities.removed, cap));
    out.push(vulnerabilityLines("Introduces", diff.vulnerabilities.added, cap));
  }
  const attention = changed.filter((c) => c.classification === "downgrade" || isMajor(c));
  if (attention.length > 0) {
    out.push(`\n**Needs a look:** ${attentionCounts(attention)}\n`);
    if (cap > 0) {
      const shown = [...attention].sort((a, b) => importance(a) - importance(b)).slice(0, cap);
      for (const c of shown) {
        const label = c.classification === "downgrade" ? "Downgrade" : "Major";
        out.push(`- ${label}: ${nameCell(c, showType)} ${escapeMarkdown(c.previous.version)} → ${escapeMarkdown(c.current.version)}\n`);
      }
      out.push(moreLine(attention.length - shown.length, "to look at"));
    }
  }

  if (changed.length > 0 && cap > 0) {
    const ordered = [...changed].sort((a, b) => importance(a) - importance(b));
    const rows = ordered
      .slice(0, cap)
      .map((c) => `| ${nameCell(c, showType)} | ${escapeMarkdown(c.previous.version)} | ${escapeMarkdown(c.current.version)} | ${classificationText(c)} |`);
    out.push(`\n| Changed | From | To | |\n|---|---|---|---|\n${rows.join("\n")}\n${moreLine(changed.length - rows.length, "changed packages")}`);
  }
  out.push(packageTable("Added", added, cap, showType));
  out.push(packageTable("Removed", removed, cap, showType));
  if (cap === 0) out.push("\n_Package tables left out: the list is too long for this comment._\n");
  const warnings = warningLines(diff, cap);
  if (warnings) out.push(`\n${warnings}`);
  out.push("\n</details>\n");
  return out.join("");
}

/** Rows the sections would hold with this cap, to skip caps that cannot fit without rendering them. */
function rowCount(diffs: readonly ImageDiff[], cap: number): number {
  let rows = 0;
  for (const d of diffs) {
    const { added, removed, changed } = d.packages;
    rows += Math.min(added.length, cap) + Math.min(removed.length, cap) + 2 * Math.min(changed.length, cap);
    if (d.vulnerabilities) rows += 2 * (Math.min(d.vulnerabilities.added.length, cap) + Math.min(d.vulnerabilities.removed.length, cap));
  }
  return rows;
}

function countsOnlyLine(diff: ImageDiff): string {
  const none = noChangeText(diff);
  if (none !== undefined) return `- ${summaryParts(diff)}`;
  const extra = attentionCounts(diff.packages.changed);
  return `- ${summaryParts(diff)}${extra ? ` (${extra})` : ""}`;
}

/**
 * Markdown for pull-request bodies and comments: one collapsible section per image (a single image's is open),
 * majors and downgrades first, then tables of changed, added and removed packages. Always within the budget:
 * long tables shrink to their first rows and "…and N more", then to counts per image, then to as many images
 * as fit. Every name, version and warning is escaped: hostile package names cannot break the layout.
 */
export function renderImageDiffs(diffs: readonly ImageDiff[], options: RenderOptions = {}): string {
  const budget = Math.max(0, Math.floor(options.budget ?? DEFAULT_BUDGET));
  const head = options.heading ? `${options.heading}\n\n` : "";
  const fits = (s: string): boolean => s.length <= budget;
  if (diffs.length === 0) return head.length <= budget ? head.trimEnd() : "";

  for (const cap of ROW_CAPS) {
    if (rowCount(diffs, cap) * MIN_ROW_CHARS > budget) continue;
    const text = head + diffs.map((d) => renderSection(d, cap, diffs.length === 1)).join("\n");
    if (fits(text)) return text;
  }

  const intro = `${head}_Package changes of ${plural(diffs.length, "image")}; the tables are too long for this comment._\n\n`;
  const lines: string[] = [];
  let length = intro.length;
  for (let i = 0; i < diffs.length; i++) {
    const line = countsOnlyLine(diffs[i] as ImageDiff) + "\n";
    const rest = diffs.length - i - 1;
    const tail = rest > 0 ? `- …and ${plural(rest, "more image")}\n`.length : 0;
    if (length + line.length + tail > budget) {
      lines.push(`- …and ${plural(diffs.length - i, "more image")}\n`);
      break;
    }
    lines.push(line);
    length += line.length;
  }
  const text = intro + lines.join("");
  if (fits(text)) return text;
  // A budget too small even for that: one plain sentence, cut to size.
  return `Package changes of ${plural(diffs.length, "image")}: too long to show here.`.slice(0, budget);
}

// ---------- plain text, for the CLI ----------

const TEXT_NAME_CHARS = 60;

function pad(cells: readonly string[][]): string[] {
  const widths: number[] = [];
  for (const row of cells) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return cells.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd());
}

const plain = (s: string, max = TEXT_NAME_CHARS): string => clean(s, max);

/** Plain text for the CLI: one block per image with aligned columns; control characters removed. */
export function renderImageDiffText(diff: ImageDiff): string {
  const short = (d: string): string => plain(d.replace(/^sha256:/, "").slice(0, 12), 12);
  const head = [`${plain(diff.image, 200)}${diff.tag ? `:${plain(diff.tag)}` : ""}`, `${short(diff.from)} -> ${short(diff.to)}`];
  const platform = platformText(diff);
  if (platform) head.push(plain(platform));
  const lines = [head.join("  ")];
  const none = noChangeText(diff);
  const source = diff.source && (diff.source.previous === diff.source.current ? diff.source.previous : `${diff.source.previous} -> ${diff.source.current}`);
  if (diff.vulnerabilities) {
    lines.push(`  vulnerabilities: ${vulnerabilitySummary(diff.vulnerabilities)}`);
    for (const [verb, list] of [["fixes", diff.vulnerabilities.removed], ["introduces", diff.vulnerabilities.added]] as const) {
      for (const v of list) {
        lines.push(`    ${verb} ${plain(v.id, 100)}  ${v.severity}  ${plain(v.package.name)} ${plain(v.package.version)}${v.fixed ? `  fixed in ${plain(v.fixed)}` : ""}`);
      }
    }
  }
  if (none !== undefined) {
    lines.push(`  ${none}`);
  } else {
    const { added, removed, changed } = diff.packages;
    const extra = attentionCounts(changed);
    lines.push(`  ${added.length} added, ${removed.length} removed, ${changed.length} changed${extra ? ` (${extra})` : ""}${source ? `  [${source}]` : ""}`);
    const showType = new Set([...added, ...removed, ...changed].map((p) => p.type)).size > 1;
    const name = (p: { name: string; type: string }): string => (showType ? `${plain(p.name)} (${plain(p.type, 20)})` : plain(p.name));
    if (changed.length > 0) {
      lines.push("  changed:");
      const ordered = [...changed].sort((a, b) => importance(a) - importance(b));
      const kind = (c: PackageChange): string => (c.major && (c.classification === "upgrade" || c.classification === "downgrade") ? `${c.classification} (major)` : classificationWords(c));
      for (const row of pad(ordered.map((c) => [name(c), plain(c.previous.version), "->", plain(c.current.version), kind(c)]))) lines.push(`    ${row}`);
    }
    for (const [title, list] of [["added", added], ["removed", removed]] as const) {
      if (list.length === 0) continue;
      lines.push(`  ${title}:`);
      for (const row of pad(list.map((p) => [name(p), plain(p.version)]))) lines.push(`    ${row}`);
    }
  }
  for (const w of diff.warnings) lines.push(`  warning: ${plain(w, MAX_WARNING_CHARS)}`);
  return lines.join("\n") + "\n";
}
