import { randomBytes, createHash } from "node:crypto";
import { closeSync, constants, existsSync, fchmodSync, fchownSync, fstatSync, fsyncSync, lstatSync, openSync, readSync, renameSync, unlinkSync, writeSync, type Stats } from "node:fs";
import path from "node:path";
import type { DigestEdit, UpdatePlan } from "../plan/types.js";
import { applyDigestEdits } from "../rewrite/rewrite.js";
import { pathBytes } from "../scan/names.js";

export interface FileWriteResult {
  readonly path: string;
  readonly ok: boolean;
  /** Why the file was left as it was. */
  readonly error?: string;
}

/** Hex SHA-256 of each file's whole content at scan time (`ScanReport.fingerprints`). */
export type Fingerprints = ReadonlyMap<string, string>;

const DIRECTORY_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const NAME_MAX = 255;
/**
 * On Linux, `/proc/self/fd/N/name` names `name` inside the folder open as descriptor N, whatever has happened to
 * the folder's path since: Node has no openat() or renameat(), and this is how to get them.
 */
const FOLDER_DESCRIPTORS = process.platform === "linux" && existsSync("/proc/self/fd");

class NotWritten extends Error {}
const CHANGED = "the file changed since it was scanned; left as it is";

/**
 * Applies a plan's edits to the files under `root`. A file is written only while its bytes are exactly those the
 * scan read (`fingerprints`), and only through folders that are not symbolic links, checked component by component
 * as the file is opened for the write; anything else leaves the file untouched and is reported. Each file is
 * rewritten whole and atomically: a temporary file beside it, with its mode, owner and group, renamed over it.
 *
 * On Linux every step after opening the folders goes through their descriptors, so a folder swapped for a link
 * mid-run cannot redirect the write. The race that remains: bytes written to the file between the last comparison
 * and the rename (microseconds) are replaced, as with any editor's atomic save. Elsewhere, the folders are checked
 * by path just before the write, and a swap in that moment is not detected.
 */
export async function rewriteFiles(root: string, plan: UpdatePlan, fingerprints: Fingerprints): Promise<FileWriteResult[]> {
  const results: FileWriteResult[] = [];
  for (const [relative, edits] of plan.edits) {
    results.push(await rewriteFileWith(root, relative, fingerprints.get(relative), (text) => applyDigestEdits(text, edits)));
  }
  return results;
}

/**
 * Rewrites one file under `root` with `change` (which throws, leaving the file as it was, when the text is not what
 * it expects), on the terms of `rewriteFiles`: only while its SHA-256 is still `fingerprint`.
 */
export async function rewriteFileWith(
  root: string,
  relative: string,
  fingerprint: string | undefined,
  change: (text: string) => string,
): Promise<FileWriteResult> {
  try {
    rewriteFile(Buffer.from(path.resolve(root), "utf8"), relative, fingerprint, change);
    return { path: relative, ok: true };
  } catch (error) {
    return { path: relative, ok: false, error: reasonOf(error) };
  }
}

function rewriteFile(rootBytes: Buffer, relative: string, fingerprint: string | undefined, change: (text: string) => string): void {
  if (fingerprint === undefined) throw new NotWritten("not scanned in this run");
  const components = relative.split("/");
  if (components.some((c) => c === "" || c === "." || c === "..")) throw new NotWritten("path escapes the scanned directory");
  const folder = openFolder(rootBytes, components.slice(0, -1));
  let fd: number | undefined;
  let temporary: Buffer | undefined;
  try {
    const name = pathBytes(components.at(-1)!);
    fd = openChecked(folder.at(name), READ_FLAGS);
    const info = fstatSync(fd);
    if (!info.isFile()) throw new NotWritten("not a regular file");
    // Replacing the file by a rename would pass over both: what its mode says, and its other names.
    if ((info.mode & 0o222) === 0) throw new NotWritten("read-only (no write permission for anyone); left as it is");
    if (info.nlink > 1) throw new NotWritten(`it has ${info.nlink} hard links, which a rewrite would split; left as it is`);
    const original = readWhole(fd);
    if (sha256(original) !== fingerprint) throw new NotWritten(CHANGED);
    const updated = Buffer.from(change(original.toString("latin1")), "latin1");

    temporary = temporaryName(name);
    writeReplacement(folder.at(temporary), updated, info);
    // The last look before the rename: the same file still stands at that name, with the same bytes.
    const now = lstatSync(folder.at(name));
    if (now.ino !== info.ino || now.dev !== info.dev || sha256(readWhole(fd)) !== fingerprint) {
      throw new NotWritten(CHANGED);
    }
    renameSync(folder.at(temporary), folder.at(name));
    temporary = undefined;
  } finally {
    if (temporary) tryUnlink(folder.at(temporary));
    if (fd !== undefined) closeSync(fd);
    folder.close();
  }
}

interface Folder {
  /** How to name `name` inside this folder for a filesystem call. */
  at(name: Buffer): Buffer;
  close(): void;
}

/**
 * Opens `components` below the root one at a time, refusing any that is a symbolic link (O_NOFOLLOW) or not a
 * folder. The root itself is the user's choice and may be reached through links.
 */
function openFolder(rootBytes: Buffer, components: readonly string[]): Folder {
  let fd = openSync(rootBytes, constants.O_RDONLY | constants.O_DIRECTORY);
  let folderPath = rootBytes;
  try {
    for (const component of components) {
      const name = pathBytes(component);
      const next = openChecked(FOLDER_DESCRIPTORS ? inFolder(fd, name) : joinBytes(folderPath, name), DIRECTORY_FLAGS);
      closeSync(fd);
      fd = next;
      folderPath = joinBytes(folderPath, name);
    }
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  const held = fd;
  const at = FOLDER_DESCRIPTORS ? (name: Buffer) => inFolder(held, name) : (name: Buffer) => joinBytes(folderPath, name);
  return { at, close: () => closeSync(held) };
}

function openChecked(where: Buffer, flags: number): number {
  try {
    return openSync(where, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // O_DIRECTORY with O_NOFOLLOW answers ENOTDIR for a link to a folder.
    if (code === "ELOOP" || (code === "ENOTDIR" && isLink(where))) throw new NotWritten("a symbolic link in its path (not followed)");
    if (code === "ENOTDIR") throw new NotWritten("a folder in its path is no longer a folder");
    if (code === "ENOENT") throw new NotWritten("no longer there");
    throw error;
  }
}

/** Writes `bytes` to a new file `where` with the mode, owner and group of `like`, on disk before it returns. */
function writeReplacement(where: Buffer, bytes: Buffer, like: Stats): void {
  const fd = openSync(where, CREATE_FLAGS, 0o600);
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    const created = fstatSync(fd);
    if (created.uid !== like.uid || created.gid !== like.gid) {
      try {
        fchownSync(fd, like.uid, like.gid);
      } catch {
        throw new NotWritten(`cannot keep its owner and group (${like.uid}:${like.gid}); run as that user or as root`);
      }
    }
    // After the chown, which clears set-id bits.
    fchmodSync(fd, like.mode & 0o7777);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readWhole(fd: number): Buffer {
  const chunks: Buffer[] = [];
  let position = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(64 * 1024);
    const read = readSync(fd, chunk, 0, chunk.length, position);
    if (read === 0) return Buffer.concat(chunks);
    chunks.push(chunk.subarray(0, read));
    position += read;
  }
}

function temporaryName(name: Buffer): Buffer {
  const suffix = `.digesta-${randomBytes(4).toString("hex")}`;
  // A name near the filesystem's limit leaves no room for its own in the temporary's.
  if (name.length + suffix.length + 1 > NAME_MAX) return Buffer.from(suffix);
  return Buffer.concat([Buffer.from("."), name, Buffer.from(suffix)]);
}

function inFolder(fd: number, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`/proc/self/fd/${fd}/`), name]);
}

function joinBytes(folder: Buffer, name: Buffer): Buffer {
  return Buffer.concat([folder, Buffer.from("/"), name]);
}

function isLink(where: Buffer): boolean {
  try {
    return lstatSync(where).isSymbolicLink();
  } catch {
    return false;
  }
}

function tryUnlink(where: Buffer): void {
  try {
    unlinkSync(where);
  } catch {
    // Already gone.
  }
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function reasonOf(error: unknown): string {
  if (error instanceof NotWritten) return error.message;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return error instanceof Error ? error.message.replace(/\/proc\/self\/fd\/\d+\//g, "") : String(error);
}
