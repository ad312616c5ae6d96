import { lines, siteOf, type Site } from "./sites.js";

/*
 * Image references in YAML, found line by line (a YAML parser would lose the byte offsets and choke on
 * templated files, which are exactly where references must be reported rather than guessed):
 *
 * - every file: an `image:` key with a scalar value (Kubernetes, Compose, Tekton, Argo, GitLab CI, CircleCI,
 *   workflow `services:` and `container: {image: …}`), and `name:` directly under an `image:` mapping
 *   (GitLab CI's long form);
 * - GitHub workflows: also `container: IMAGE` (the short form) and `uses: docker://IMAGE`;
 * - action metadata (`action.yml`): `image: docker://IMAGE` and `uses: docker://IMAGE` (a plain `image:` there
 *   names a Dockerfile);
 * - Cloud Build: also a step's `name:` (`steps: - name: IMAGE`).
 */

export type YamlFlavour = "workflow" | "action" | "cloudbuild" | "plain";

const KEY = /^([ \t]*)((?:-[ \t]+)*)(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\3[ \t]*:(?=[ \t]|$)/;

/** Why an `image:` beside `build:` is left alone: Compose builds that image and tags it with this name. */
export const BUILT_HERE = "the name `build:` gives the image Compose builds here, not an image pulled (a digest cannot tag a build)";

export function yamlSites(text: string, flavour: YamlFlavour): Site[] {
  const sites: { site: Site; mapping: number }[] = [];
  /** Keys that open a block (no value on their line), with the column of the key. */
  const openers: { indent: number; key: string }[] = [];
  /** The mappings open at each key column (a list item's dash starts a new one), to know which keys are siblings. */
  const mappings: { column: number; id: number }[] = [];
  const building = new Set<number>();
  let mappingCount = 0;
  for (const { start, line } of lines(text)) {
    const match = KEY.exec(line);
    if (!match) continue;
    const keyColumn = match[1]!.length + match[2]!.length;
    const itemColumn = match[1]!.length;
    // A key belongs to the nearest opener to its left; a list item's dash counts as its column.
    while (openers.length > 0 && openers[openers.length - 1]!.indent >= (match[2] ? itemColumn : keyColumn)) openers.pop();
    while (mappings.length > 0 && mappings[mappings.length - 1]!.column > (match[2] ? itemColumn : keyColumn)) mappings.pop();
    if (match[2] || mappings[mappings.length - 1]?.column !== keyColumn) {
      if (mappings[mappings.length - 1]?.column === keyColumn) mappings.pop();
      mappings.push({ column: keyColumn, id: ++mappingCount });
    }
    const mapping = mappings[mappings.length - 1]!.id;
    const parent = openers[openers.length - 1]?.key;
    const key = match[4]!;
    if (key === "build") building.add(mapping);
    const value = scalarAt(line, match[0].length);
    if (value === undefined) {
      openers.push({ indent: keyColumn, key });
      continue;
    }
    const offset = start + value.offset;
    const site = siteFor(flavour, key, parent, Boolean(match[2]), offset, value.text);
    if (site) sites.push({ site, mapping });
  }
  // `build:` may come before or after `image:` in a Compose service: known only once the whole file is read.
  return sites.map(({ site, mapping }) => (site.syntax === "yaml-image" && building.has(mapping) ? { ...site, notPulled: BUILT_HERE } : site));
}

function siteFor(flavour: YamlFlavour, key: string, parent: string | undefined, item: boolean, offset: number, value: string): Site | undefined {
  switch (key) {
    case "image":
      return flavour === "action" ? siteOf(offset, value, "workflow-docker-uses", "require") : siteOf(offset, value, "yaml-image", "strip");
    case "name":
      if (parent === "image") return siteOf(offset, value, "yaml-image");
      if (flavour === "cloudbuild" && parent === "steps" && item) return siteOf(offset, value, "cloudbuild-step");
      return undefined;
    case "container":
      return flavour === "workflow" ? siteOf(offset, value, "workflow-container") : undefined;
    case "uses":
      return flavour === "workflow" || flavour === "action" ? siteOf(offset, value, "workflow-docker-uses", "require") : undefined;
    default:
      return undefined;
  }
}

/**
 * The scalar value starting at `from` in `line`, or undefined when there is none (a block follows), it is a block
 * scalar, flow collection or alias, or something other than a comment follows a quoted value. Quoted values are
 * returned without their quotes; escapes are left in and judged later (they cannot be part of a reference).
 */
export function scalarAt(line: string, from: number): { offset: number; text: string } | undefined {
  let i = from;
  const skipBlanks = () => {
    while (i < line.length && (line[i] === " " || line[i] === "\t")) i++;
  };
  skipBlanks();
  // Anchors (`&name`) and tags (`!!str`) before the value.
  while (line[i] === "&" || line[i] === "!") {
    while (i < line.length && line[i] !== " " && line[i] !== "\t") i++;
    skipBlanks();
  }
  const first = line[i];
  if (first === undefined || first === "#" || first === "|" || first === ">" || first === "*" || first === "{" || first === "[") {
    return undefined;
  }
  if (first === '"' || first === "'") {
    const close = closingQuote(line, i + 1, first);
    if (close < 0) return undefined;
    const rest = line.slice(close + 1).trim();
    if (rest !== "" && !rest.startsWith("#")) return undefined;
    return { offset: i + 1, text: line.slice(i + 1, close) };
  }
  let end = line.length;
  const comment = /[ \t]#/.exec(line.slice(i));
  if (comment) end = i + comment.index;
  const text = line.slice(i, end).trimEnd();
  return text === "" ? undefined : { offset: i, text };
}

/** Index of the quote closing a YAML string opened before `from`: `''` escapes `'`, and `\` escapes in `"…"`. */
function closingQuote(line: string, from: number, quote: string): number {
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (quote === '"' && c === "\\") {
      i++;
      continue;
    }
    if (c !== quote) continue;
    if (quote === "'" && line[i + 1] === "'") {
      i++;
      continue;
    }
    return i;
  }
  return -1;
}
