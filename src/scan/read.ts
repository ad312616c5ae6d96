import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { errorLine } from "../errors/error-line.js";
import { joinPath } from "./names.js";
import { scanText } from "./scanner.js";
import type { NotScannedFile, NotScannedKind, PinnedOccurrence, SkippedOccurrence } from "./types.js";

/** A NUL byte in this many leading bytes marks a file as binary (what git and ripgrep do). */
const BINARY_SNIFF_LENGTH = 8192;
/** A hostile file packed with references must not fill memory with occurrences; no real file has this many. */
export const MAX_REFERENCES_PER_FILE = 10_000;
const INITIAL_BUFFER_SIZE = 64 * 1024;
const KEPT_BUFFER_SIZE = 1024 * 1024;
const DIGEST_MARK = Buffer.from("@sha256:", "latin1");
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** node:crypto takes a while to load, and only a scan that will rewrite needs it. */
const crypto = () => createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto");

/** What one file holds: its references, in offset order. Only files with at least one are reported. */
export interface FileFindings {
  readonly path: string;
  readonly pinned: PinnedOccurrence[];
  readonly skipped: SkippedOccurrence[];
  /** SHA-256 (hex) of the whole file as read, when asked for. */
  readonly fingerprint?: string;
}

/** What reading a run of files (in path order) gave: plain data, so that a worker thread can hand it over. */
export interface BatchResult {
  readonly findings: FileFindings[];
  readonly notScanned: NotScannedFile[];
  readonly filesScanned: number;
  readonly bytesScanned: number;
}

export interface ReaderOptions {
  /** The absolute root the relative paths are under. */
  readonly root: string;
  readonly maxFileSize: number;
  /** Whether to hash the files holding references (what a rewrite checks before writing). */
  readonly fingerprints: boolean;
}

type Unread = { readonly kind: NotScannedKind; readonly reason: string };

/**
 * Reads and scans files one at a time into one reused buffer: only files containing `@sha256:` are decoded, and
 * only their occurrences are kept. The same code runs in the calling thread and in the scan's worker threads.
 */
export class FileReader {
  private buffer: Buffer = Buffer.allocUnsafe(INITIAL_BUFFER_SIZE);

  constructor(private readonly options: ReaderOptions) {}

  /** Reads the regular files at `paths` (relative, in path order); `onTextFile` sees each text file's bytes. */
  readBatch(paths: readonly string[], onTextFile?: (path: string, bytes: Buffer) => void): BatchResult {
    const findings: FileFindings[] = [];
    const notScanned: NotScannedFile[] = [];
    let filesScanned = 0;
    let bytesScanned = 0;
    for (const relative of paths) {
      const read = readBounded(joinPath(this.options.root, relative), this.buffer, this.options.maxFileSize);
      if ("reason" in read) {
        notScanned.push({ path: relative, ...read });
        continue;
      }
      if (read.buffer.length <= KEPT_BUFFER_SIZE) this.buffer = read.buffer;
      const bytes = read.bytes;
      if (bytes.subarray(0, BINARY_SNIFF_LENGTH).includes(0)) {
        notScanned.push({ path: relative, kind: "binary", reason: "binary (NUL byte in the first 8 KiB)" });
        continue;
      }
      filesScanned++;
      bytesScanned += bytes.length;
      onTextFile?.(relative, bytes);
      if (!bytes.includes(DIGEST_MARK)) continue;
      const scan = scanText(relative, bytes.toString("latin1"));
      const found = scan.pinned.length + scan.skipped.length;
      if (found > MAX_REFERENCES_PER_FILE) {
        notScanned.push({
          path: relative,
          kind: "too-many-references",
          reason: `more than ${MAX_REFERENCES_PER_FILE} references (${found}): too many for a real configuration file`,
        });
      } else if (found > 0) {
        const fingerprint = this.options.fingerprints ? crypto().createHash("sha256").update(bytes).digest("hex") : undefined;
        findings.push({ path: relative, ...scan, ...(fingerprint !== undefined ? { fingerprint } : {}) });
      }
    }
    return { findings, notScanned, filesScanned, bytesScanned };
  }
}

/**
 * Reads a whole regular file into `buffer` (or a larger one when it does not fit), refusing symlinks,
 * special files and files over `maxFileSize`, and never throwing: errors come back as a reason. The walk
 * has already seen a regular file; fstat is asked only when the file fills the buffer, to size a bigger one
 * and to catch a special file swapped in since (which, opened non-blocking, cannot hang the read).
 */
function readBounded(absolute: string | Buffer, buffer: Buffer, maxFileSize: number): { bytes: Buffer; buffer: Buffer } | Unread {
  let fd: number;
  try {
    fd = openSync(absolute, OPEN_FLAGS);
  } catch (error) {
    return unreadable(error);
  }
  try {
    let target = buffer;
    let length = 0;
    let checked = false;
    for (;;) {
      const bytesRead = readSync(fd, target, length, target.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxFileSize) return { kind: "too-large", reason: `larger than ${maxFileSize} bytes` };
      if (length < target.length) continue;
      let size = 0;
      if (!checked) {
        const info = fstatSync(fd);
        if (!info.isFile()) return { kind: "special", reason: "not a regular file (FIFO, socket or device)" };
        if (info.size > maxFileSize) return { kind: "too-large", reason: `larger than ${maxFileSize} bytes (${info.size})` };
        checked = true;
        size = info.size;
      }
      // One byte more than the size, to notice a file that grew without reading it whole.
      const grown = Buffer.allocUnsafe(Math.min(maxFileSize + 1, Math.max(size + 1, target.length * 2)));
      target.copy(grown, 0, 0, length);
      target = grown;
    }
    return { bytes: target.subarray(0, length), buffer: target };
  } catch (error) {
    return unreadable(error);
  } finally {
    closeSync(fd);
  }
}

/** A file that could not be opened or read; one swapped for a symbolic link since the walk is reported as such. */
function unreadable(error: unknown): Unread {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ELOOP") return { kind: "symlink", reason: "symbolic link (not followed)" };
  return { kind: "unreadable", reason: `not readable: ${errorReason(error)}` };
}

export function errorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ELOOP") return "symbolic link (not followed)";
  if (code === "ENOTDIR") return "not a directory";
  return code ?? errorLine(error);
}
