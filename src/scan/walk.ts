import { readdirSync, type Dirent } from "node:fs";
import { decodeName, joinPath } from "./names.js";

/** Never entered, at any depth: what `**\/.git/**` and `**\/node_modules/**` would exclude, matched by name. */
const ALWAYS_SKIPPED = new Set([".git", "node_modules"]);

export type WalkEntry =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "symlink"; readonly path: string }
  /** A FIFO, socket or device: never opened. */
  | { readonly kind: "special"; readonly path: string }
  | { readonly kind: "error"; readonly path: string; readonly error: unknown };

export interface WalkOptions {
  /** Globs a file's `/`-separated path relative to the root must match; none means every file. */
  readonly include?: readonly string[];
  /** Globs for files and directories to leave out; a matching directory is not entered. */
  readonly exclude?: readonly string[];
  /** Filled with each `include` pattern (as given) that matched at least one file or symbolic link. */
  readonly matchedIncludes?: Set<string>;
}

/** The compiled globs of `WalkOptions`. */
export interface WalkMatchers {
  readonly include?: (path: string) => boolean;
  readonly exclude?: (path: string) => boolean;
}

/** Compiles the globs; picomatch is loaded only when there are some (a plain scan has none, and starts sooner). */
export async function walkMatchers(options: WalkOptions): Promise<WalkMatchers> {
  if (!options.include?.length && !options.exclude?.length) return {};
  const { default: picomatch } = await import("picomatch");
  const matchOptions = { dot: true };
  const included = options.include?.length ? picomatch(options.include.map(gitignoreStyle), matchOptions) : undefined;
  const exclude = options.exclude?.length ? picomatch(options.exclude.map(gitignoreStyle), matchOptions) : undefined;
  const include =
    included && options.matchedIncludes ? recordingMatches(options.include!, options.matchedIncludes, included, (pattern) => picomatch(gitignoreStyle(pattern), matchOptions)) : included;
  return { ...(include ? { include } : {}), ...(exclude ? { exclude } : {}) };
}

/**
 * Lists the regular files under `root` in path order (JavaScript string order of the relative paths, which is
 * what a sort of the results would give), as paths relative to it, without following symbolic links (they are
 * reported, not entered). Dot files are included. Names are read as bytes and carried as `decodeName` strings,
 * so a name that is not UTF-8 is found, matched and opened like any other. It holds the listings of the
 * directories on the way down and nothing else, so memory does not grow with the number of files, which
 * fast-glob's stream cannot promise (it walks ahead of its reader without bound). Matching is picomatch's, as in
 * fast-glob.
 */
export function* walkFiles(root: string, { include, exclude }: WalkMatchers = {}): Generator<WalkEntry> {
  // Entries still to visit, last first: a directory's listing goes on in sorted order, its subdirectories as
  // markers that are read when they come up, so each directory's contents come out just where `name/` sorts.
  const pending: Listed[] = [{ kind: "directory", path: "", key: "" }];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (next.kind !== "directory") {
      if (!include || include(next.path)) yield next;
      continue;
    }
    const directory = next.path;
    const absolute = directory === "" ? root : joinPath(root, directory);
    let names: string[];
    let entries: Dirent[] | Dirent<Buffer>[];
    try {
      ({ names, entries } = listDirectory(absolute));
    } catch (error) {
      yield { kind: "error", path: directory === "" ? "." : directory, error };
      continue;
    }
    const listed: Listed[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const name = names[i]!;
      const relative = directory === "" ? name : `${directory}/${name}`;
      if (ALWAYS_SKIPPED.has(name) || exclude?.(relative)) continue;
      if (entry.isFile()) listed.push({ kind: "file", path: relative, key: name });
      else if (entry.isDirectory()) listed.push({ kind: "directory", path: relative, key: `${name}/` });
      else listed.push({ kind: entry.isSymbolicLink() ? "symlink" : "special", path: relative, key: name });
    }
    listed.sort(byKey);
    for (let i = listed.length - 1; i >= 0; i--) pending.push(listed[i]!);
  }
}

/**
 * A directory's entries and their names as `decodeName` strings. Names are read as UTF-8 strings, which is
 * cheaper than a Buffer for each; only a directory where one did not decode (U+FFFD stands for a byte that is
 * not UTF-8) is read again as bytes.
 */
function listDirectory(absolute: string | Buffer): { names: string[]; entries: Dirent[] | Dirent<Buffer>[] } {
  const entries = readdirSync(absolute, { withFileTypes: true });
  const names = entries.map((entry) => entry.name);
  if (!names.some((name) => name.includes("\ufffd"))) return { names, entries };
  const raw = readdirSync(absolute, { withFileTypes: true, encoding: "buffer" });
  return { names: raw.map((entry) => decodeName(entry.name)), entries: raw };
}

/** A directory's entry waiting its turn on the walk's stack; `key` sorts a directory as `name/`. */
type Listed = ({ readonly kind: "directory"; readonly path: string } | Exclude<WalkEntry, { readonly kind: "error" }>) & { readonly key: string };

function byKey(a: Listed, b: Listed): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * Patterns read as .gitignore reads them: one without a `/` (other than a trailing one) matches at any depth
 * (`*.yaml` is `**\/*.yaml`), a leading `/` or `./` anchors to the root, and a trailing `/` is dropped.
 */
export function gitignoreStyle(pattern: string): string {
  let text = pattern.endsWith("/") && pattern.length > 1 ? pattern.slice(0, -1) : pattern;
  if (text.startsWith("./")) return text.slice(2);
  if (text.startsWith("/")) return text.slice(1);
  if (!text.includes("/")) text = `**/${text}`;
  return text;
}

/** The combined matcher, noting which of the patterns matched; each pattern is tested alone only until it has matched once. */
function recordingMatches(
  patterns: readonly string[],
  matched: Set<string>,
  any: (path: string) => boolean,
  compile: (pattern: string) => (path: string) => boolean,
): (path: string) => boolean {
  const pending = patterns.map((pattern) => ({ pattern, test: compile(pattern) }));
  return (path) => {
    if (!any(path)) return false;
    for (let i = pending.length - 1; i >= 0; i--) {
      if (pending[i]!.test(path)) {
        matched.add(pending[i]!.pattern);
        pending.splice(i, 1);
      }
    }
    return true;
  };
}
