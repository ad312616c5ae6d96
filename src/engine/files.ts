import { lstat, readFile, rename, writeFile, chmod, unlink } from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { DigestEdit, UpdatePlan } from "../plan/types.js";
import { applyDigestEdits } from "../rewrite/rewrite.js";

export interface FileWriteResult {
  readonly path: string;
  readonly ok: boolean;
  /** Why the file was left as it was. */
  readonly error?: string;
}

/**
 * Applies a plan's edits to the files under `root`. Each file is rewritten whole and atomically (a temporary
 * file renamed over it, its mode kept), only after every edit in it has been checked against what the scan saw:
 * a file that changed since, or that is a symlink, is left untouched and reported.
 */
export async function rewriteFiles(root: string, plan: UpdatePlan): Promise<FileWriteResult[]> {
  const results: FileWriteResult[] = [];
  for (const [relative, edits] of plan.edits) {
    results.push(await rewriteFile(root, relative, edits));
  }
  return results;
}

function rewriteFile(root: string, relative: string, edits: readonly DigestEdit[]): Promise<FileWriteResult> {
  return rewriteFileWith(root, relative, (text) => applyDigestEdits(text, edits));
}

/**
 * Rewrites one file under `root` atomically with `change` (which throws, leaving the file as it was, when the text
 * is not what it expects), keeping its mode; a symlink, special file or path outside `root` is left alone.
 */
export async function rewriteFileWith(root: string, relative: string, change: (text: string) => string): Promise<FileWriteResult> {
  const absolute = path.resolve(root, relative);
  if (!absolute.startsWith(path.resolve(root) + path.sep)) {
    return { path: relative, ok: false, error: "path escapes the scanned directory" };
  }
  try {
    const stat = await lstat(absolute);
    if (!stat.isFile()) return { path: relative, ok: false, error: "not a regular file" };
    const text = await readFile(absolute, "latin1");
    const updated = change(text);
    const temporary = path.join(path.dirname(absolute), `.${path.basename(absolute)}.digesta-${randomBytes(4).toString("hex")}`);
    try {
      await writeFile(temporary, updated, { encoding: "latin1", flag: "wx" });
      await chmod(temporary, stat.mode & 0o7777);
      await rename(temporary, absolute);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    return { path: relative, ok: true };
  } catch (error) {
    return { path: relative, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
