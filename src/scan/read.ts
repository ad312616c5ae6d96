import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { errorLine } from "../errors/error-line.js";
import { joinPath } from "./names.js";
import { DIGEST_MARK_BYTES, indexOfDigestMark, scanBytes } from "./scanner.js";
import type { NotScannedFile, NotScannedKind, PinnedOccurrence, SkippedOccurrence } from "./types.js";

/** A NUL byte in this many leading bytes marks a file as binary (what git and ripgrep do). */
const BINARY_SNIFF_LENGTH = 8192;
/** A hostile file packed with references must not fill memory with occurrences; no real file has this many. */
export const MAX_REFERENCES_PER_FILE = 10_000;
/** Files up to this size (nearly all) are read with one read(2) into one buffer kept for the whole scan. */
const READ_BUFFER_SIZE = 256 * 1024;
/** A larger file's buffer is kept for the next file only up to this size. */
const KEPT_BUFFER_SIZE = 1024 * 1024;
/** Room after a file's bytes for the searches' sentinels (see `readBatch`). */
const SENTINEL_ROOM = DIGEST_MARK_BYTES.length;
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

const UTF16_WITH_PINS: Unread = {
  kind: "encoding",
  reason: "UTF-16 text holding @sha256: (pins are read and rewritten in UTF-8 and other ASCII-compatible text only); save it as UTF-8",
};
/**
 * `@sha256:` in UTF-16LE. It is found in big-endian text too, one byte in: there every ASCII character is a zero then
 * the byte, so the mark's bytes (each followed by a zero) run on into the first hex digit's zero.
 */
const UTF16_MARK = Buffer.from("@sha256:", "utf16le");

/**
 * A file with a UTF-16 byte order mark that holds `@sha256:` (what PowerShell's `>` writes): it has pins that would
 * otherwise pass as a binary file's bytes, unchecked and never moved, with `check` green.
 */
function utf16WithPins(bytes: Buffer): boolean {
  const bom = bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
  return bom && bytes.includes(UTF16_MARK);
}

/**
 * Reads and scans files one at a time into one reused buffer: only files containing `@sha256:` are looked at
 * further, and only their occurrences are kept. The same code runs in the calling thread and in the scan's
 * worker threads. Per file it costs open, one read and close (no stat: the walk has seen a regular file), and
 * no allocation unless the file holds a reference.
 */
export class FileReader {
  /** The buffer kept from file to file. */
  private kept: Buffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  /** Where the last `read` put the file: `kept`, or for a file too large to keep, a buffer of its own. */
  private current: Buffer = this.kept;
  /** Why the last `read` gave -1. */
  private unread: Unread | undefined;

  constructor(private readonly options: ReaderOptions) {}

  /** Reads the regular files at `paths` (relative, in path order); `onTextFile` sees each text file's bytes. */
  readBatch(paths: readonly string[], onTextFile?: (path: string, bytes: Buffer) => void): BatchResult {
    const findings: FileFindings[] = [];
    const notScanned: NotScannedFile[] = [];
    let filesScanned = 0;
    let bytesScanned = 0;
    for (const relative of paths) {
      const length = this.read(joinPath(this.options.root, relative));
      if (length < 0) {
        notScanned.push({ path: relative, ...this.unread! });
        continue;
      }
      // Both searches run over the buffer and stop at a sentinel (a NUL after the first 8 KiB, the mark just after
      // the file's bytes), so neither needs a view of the file (an allocation per file) nor can find stale bytes
      // of an earlier one.
      const buffer = this.current;
      if (hasNulByte(buffer, Math.min(length, BINARY_SNIFF_LENGTH))) {
        const bytes = buffer.subarray(0, length);
        notScanned.push(utf16WithPins(bytes) ? { path: relative, ...UTF16_WITH_PINS } : { path: relative, kind: "binary", reason: "binary (NUL byte in the first 8 KiB)" });
        continue;
      }
      filesScanned++;
      bytesScanned += length;
      if (onTextFile) onTextFile(relative, buffer.subarray(0, length));
      writeDigestMark(buffer, length);
      const first = indexOfDigestMark(buffer, 0, length);
      if (first === length) continue;
      const bytes = buffer.subarray(0, length);
      const scan = scanBytes(relative, bytes, first);
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

  /**
   * Reads a whole regular file into `this.current`, leaving SENTINEL_ROOM bytes free after it, and gives its
   * length; or -1 with why in `this.unread`: symlinks, special files, files over `maxFileSize` and errors are
   * refused, never thrown. A read that does not fill the buffer has reached the end of a regular file, so most
   * files take one read. fstat is asked only when the buffer fills, to size a bigger one and to catch a special
   * file swapped in since the walk (which, opened non-blocking, cannot hang the read).
   */
  private read(absolute: string | Buffer): number {
    const maxFileSize = this.options.maxFileSize;
    let fd: number;
    try {
      fd = openSync(absolute, OPEN_FLAGS);
    } catch (error) {
      return this.refuse(unreadable(error));
    }
    try {
      let target = this.kept;
      this.current = target;
      let length = readSync(fd, target, 0, target.length - SENTINEL_ROOM, null);
      if (length < target.length - SENTINEL_ROOM) return length <= maxFileSize ? length : this.refuse(tooLarge(maxFileSize, length));
      const info = fstatSync(fd);
      if (!info.isFile()) return this.refuse({ kind: "special", reason: "not a regular file (FIFO, socket or device)" });
      if (info.size > maxFileSize) return this.refuse(tooLarge(maxFileSize, info.size));
      for (;;) {
        if (length > maxFileSize) return this.refuse(tooLarge(maxFileSize));
        if (length === target.length - SENTINEL_ROOM) {
          // One byte more than the size, to notice a file that grew without reading it whole.
          const grown = Buffer.allocUnsafe(Math.min(maxFileSize + 1, Math.max(info.size + 1, length * 2)) + SENTINEL_ROOM);
          target.copy(grown, 0, 0, length);
          target = grown;
          this.current = grown;
          if (grown.length <= KEPT_BUFFER_SIZE) this.kept = grown;
        }
        const bytesRead = readSync(fd, target, length, target.length - SENTINEL_ROOM - length, null);
        if (bytesRead === 0) return length;
        length += bytesRead;
      }
    } catch (error) {
      return this.refuse(unreadable(error));
    } finally {
      closeSync(fd);
    }
  }

  private refuse(why: Unread): number {
    this.unread = why;
    return -1;
  }
}

/** Whether one of the first `end` bytes is NUL: a memchr that stops at a NUL put at `end` for the search. */
function hasNulByte(buffer: Buffer, end: number): boolean {
  const saved = buffer[end]!;
  buffer[end] = 0;
  const at = buffer.indexOf(0);
  buffer[end] = saved;
  return at < end;
}

/** `@sha256:` at `at`, byte by byte: cheaper than a Buffer copy for eight bytes, once a file. */
function writeDigestMark(buffer: Buffer, at: number): void {
  for (let i = 0; i < DIGEST_MARK_BYTES.length; i++) buffer[at + i] = DIGEST_MARK_BYTES[i]!;
}

function tooLarge(maxFileSize: number, size?: number): Unread {
  return { kind: "too-large", reason: `larger than ${maxFileSize} bytes${size !== undefined ? ` (${size})` : ""}` };
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
