import { analyseReference } from "../reference/parse.js";
import { IGNORE_COMMENT, IGNORE_COMMENT_REASON, IGNORE_MARK } from "../scan/scanner.js";
import { hclSites, jsonSites, shellFlagSites } from "./assignments.js";
import { dockerfileSites } from "./dockerfile.js";
import type { Site } from "./sites.js";
import type { UnpinnableOccurrence, UnpinnedOccurrence, UnpinnedScan } from "./types.js";
import { yamlSites, type YamlFlavour } from "./yaml.js";

/*
 * Finds tagged references without a digest, only where the syntax makes an image reference certain (see each
 * syntax's file). Nothing is guessed: a value built from variables or templates, an untagged name or text that is
 * not one reference is reported as unpinnable with the reason; a value that already carries a digest is the
 * scanner's business and not reported here.
 */

export const REASON = {
  template: "a template ({{ … }}): the image is only known once it is rendered",
  variable: "built from a variable ($…): its value is not known here",
  freeText: "free text, not a single image reference",
  untagged: "no tag: write IMAGE:TAG first (digesta does not assume latest)",
  tooLong: "too long to be an image reference",
} as const;

/** A hostile file packed with sites must not fill memory; no real file has this many image references. */
export const MAX_SITES_PER_FILE = 10_000;
const MAX_VALUE_LENGTH = 512;

type FileKind = { readonly kind: "dockerfile" | "json" | "hcl" | "shell" } | { readonly kind: "yaml"; readonly flavour: YamlFlavour };

/**
 * What kind of file `path` is, by name (and a script's `#!` line, read from `head`, the file's first bytes);
 * undefined for files no syntax here covers.
 */
export function fileKind(path: string, head: string): FileKind | undefined {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const lower = base.toLowerCase();
  if (/^(docker|container)file([.-].*)?$/.test(lower) || /\.(docker|container)file$/.test(lower)) return { kind: "dockerfile" };
  if (/\.ya?ml$/.test(lower)) {
    if (/(^|\/)\.github\/workflows\/[^/]+$/.test(path)) return { kind: "yaml", flavour: "workflow" };
    if (lower === "action.yml" || lower === "action.yaml") return { kind: "yaml", flavour: "action" };
    if (lower.startsWith("cloudbuild")) return { kind: "yaml", flavour: "cloudbuild" };
    return { kind: "yaml", flavour: "plain" };
  }
  if (lower.endsWith(".json") || lower.endsWith(".jsonc")) return { kind: "json" };
  if (/\.(tf|hcl)$/.test(lower)) return { kind: "hcl" };
  if (/\.(sh|bash|zsh|ksh|mk)$/.test(lower) || /^(gnu)?makefile$/.test(lower) || lower === "justfile") return { kind: "shell" };
  if (/^#![^\n]*\b(ba|z|k|da)?sh\b/.test(head.slice(0, 128))) return { kind: "shell" };
  return undefined;
}

function sitesOf(kind: FileKind, text: string): Site[] {
  switch (kind.kind) {
    case "dockerfile":
      return [...dockerfileSites(text), ...shellFlagSites(text)];
    case "yaml":
      return [...yamlSites(text, kind.flavour), ...shellFlagSites(text)];
    case "json":
      return jsonSites(text);
    case "hcl":
      return hclSites(text);
    case "shell":
      return shellFlagSites(text);
  }
}

/** Every unpinned reference in one file's text (decoded as latin1, so offsets are byte offsets). */
export function findUnpinned(path: string, text: string, kind = fileKind(path, text)): UnpinnedScan {
  const unpinned: UnpinnedOccurrence[] = [];
  const unpinnable: UnpinnableOccurrence[] = [];
  if (!kind) return { unpinned, unpinnable };
  const sites = sitesOf(kind, text).sort((a, b) => a.offset - b.offset);
  const locate = locator(text);
  const mayIgnore = text.includes(IGNORE_MARK);
  let previous = -1;
  for (const site of sites.slice(0, MAX_SITES_PER_FILE)) {
    if (site.offset === previous) continue;
    previous = site.offset;
    const { line, column } = locate(site.offset);
    const place = { path, line, column, offset: site.offset, text: site.value, syntax: site.syntax };
    // A `digesta:ignore` comment on the line leaves it as it is, as it does for pins.
    const judged = mayIgnore && ignoredLine(text, site.offset - column + 1) ? IGNORE_COMMENT_REASON : judge(site.value);
    const verdict = site.notPulled && typeof judged === "object" ? site.notPulled : judged;
    if (verdict === undefined) continue;
    if (typeof verdict === "string") unpinnable.push({ ...place, text: site.value.slice(0, MAX_VALUE_LENGTH), reason: verdict });
    else unpinned.push({ ...place, reference: verdict });
  }
  return { unpinned, unpinnable };
}

/** The tagged reference `value` is, why it cannot be pinned, or undefined when it already carries a digest. */
export function judge(value: string): UnpinnedOccurrence["reference"] | string | undefined {
  if (value.length > MAX_VALUE_LENGTH) return REASON.tooLong;
  if (value.includes("{{") || value.includes("}}")) return REASON.template;
  if (value.includes("$")) return REASON.variable;
  if (/\s/.test(value)) return REASON.freeText;
  if (value.includes("@")) {
    const parsed = analyseReference(value);
    return typeof parsed === "string" ? `not an image reference: ${parsed}` : undefined;
  }
  const parsed = analyseReference(value);
  if (typeof parsed === "string") return `not an image reference: ${parsed}`;
  if (parsed.tag === undefined) return REASON.untagged;
  return parsed as UnpinnedOccurrence["reference"];
}

function ignoredLine(text: string, lineStart: number): boolean {
  const end = text.indexOf("\n", lineStart);
  return IGNORE_COMMENT.test(text.slice(lineStart, end < 0 ? text.length : end));
}

/** Offset → 1-based line and column, by binary search over the line starts (computed once per file). */
function locator(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", nl + 1)) starts.push(nl + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - starts[low]! + 1 };
  }
}
