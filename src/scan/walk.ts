import { readdirSync } from "node:fs";
import path from "node:path";
import picomatch from "picomatch";

export type WalkEntry =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "symlink"; readonly path: string }
  | { readonly kind: "error"; readonly path: string; readonly error: unknown };

export interface WalkOptions {
  /** Globs a file's `/`-separated path relative to the root must match; none means every file. */
  readonly include?: readonly string[];
  /** Globs for files and directories to leave out; a matching directory is not entered. */
  readonly exclude?: readonly string[];
}

/**
 * Lists the regular files under `root` depth first, as paths relative to it, without following symbolic
 * links (they are reported, not entered). Dot files are included. It holds one directory listing and the
 * directories still to visit at a time, so memory does not grow with the number of files, which fast-glob's
 * stream cannot promise (it walks ahead of its reader without bound). Matching is picomatch's, as in fast-glob.
 */
export function* walkFiles(root: string, options: WalkOptions = {}): Generator<WalkEntry> {
  const matchOptions = { dot: true };
  const include = options.include?.length ? picomatch(options.include.map(stripDotSlash), matchOptions) : undefined;
  const exclude = options.exclude?.length ? picomatch(options.exclude.map(stripDotSlash), matchOptions) : undefined;
  const pending: string[] = [""];
  while (pending.length > 0) {
    const directory = pending.pop()!;
    let entries;
    try {
      entries = readdirSync(directory === "" ? root : path.join(root, directory), { withFileTypes: true });
    } catch (error) {
      yield { kind: "error", path: directory === "" ? "." : directory, error };
      continue;
    }
    const subdirectories: string[] = [];
    for (const entry of entries) {
      const relative = directory === "" ? entry.name : `${directory}/${entry.name}`;
      if (exclude?.(relative)) continue;
      if (entry.isDirectory()) subdirectories.push(relative);
      else if (entry.isSymbolicLink()) {
        if (!include || include(relative)) yield { kind: "symlink", path: relative };
      } else if (entry.isFile() && (!include || include(relative))) yield { kind: "file", path: relative };
    }
    for (let i = subdirectories.length - 1; i >= 0; i--) pending.push(subdirectories[i]!);
  }
}

function stripDotSlash(pattern: string): string {
  return pattern.startsWith("./") ? pattern.slice(2) : pattern;
}
