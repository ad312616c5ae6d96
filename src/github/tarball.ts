import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import { errorLine } from "../errors/error-line.js";

export interface ExtractLimits {
  /** Bytes the archive may unpack to (the whole tar stream, skipped entries included). */
  readonly maxBytes: number;
  /** Regular files written. */
  readonly maxFiles: number;
  /** Larger files are not written (digesta does not read them either) and are listed as skipped. */
  readonly maxFileBytes: number;
  /**
   * Entries of any kind (folders, links, skipped files too): without it an archive of millions of empty folders or
   * links, a few MiB gzipped, would make millions of folders on disk or skipped records in memory. Default twice
   * `maxFiles`.
   */
  readonly maxEntries?: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = {
  maxBytes: 1024 * 1024 * 1024,
  maxFiles: 100_000,
  maxFileBytes: 4 * 1024 * 1024,
};

export interface ExtractSummary {
  readonly files: number;
  readonly bytes: number;
  /** Files with an executable bit in the archive (written as 0644 here; the bit matters when committing them back). */
  readonly executable: ReadonlySet<string>;
  /** Entries not written, with why: links, devices, files over the size limit. */
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
}

export type ArchiveErrorCode = "TOO_LARGE" | "TOO_MANY_FILES" | "UNSAFE_PATH" | "BAD_ARCHIVE";

export class ArchiveError extends Error {
  override readonly name = "ArchiveError";
  constructor(
    readonly code: ArchiveErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const MiB = 1024 * 1024;

/**
 * Unpacks a gzipped tarball as GitHub serves it (everything under one `owner-repo-sha/` folder, which is dropped)
 * into `root`, which must exist and be empty. Only regular files and folders are created: symbolic and hard links,
 * devices and FIFOs are skipped, so nothing written can point outside `root`; a path that would escape it stops the
 * extraction. Hostile input: sizes and counts are bounded, and going past a bound stops with a message saying which.
 */
export async function extractTarball(
  gzipped: Readable,
  root: string,
  limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS,
): Promise<ExtractSummary> {
  const base = path.resolve(root);
  let inflated = 0;
  const bound = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      inflated += chunk.length;
      if (inflated > limits.maxBytes) {
        callback(
          new ArchiveError("TOO_LARGE", `the repository archive unpacks to more than ${Math.floor(limits.maxBytes / MiB)} MiB, the limit`),
        );
      } else callback(null, chunk);
    },
  });
  const extract = tar.extract();
  const feeding = pipeline(gzipped, createGunzip(), bound, extract);
  // Failures surface through the iterator below; keep this one from being reported as unhandled meanwhile.
  feeding.catch(() => undefined);

  const maxEntries = limits.maxEntries ?? 2 * limits.maxFiles;
  let entries = 0;
  let files = 0;
  let bytes = 0;
  const skipped: { path: string; reason: string }[] = [];
  const executable = new Set<string>();
  const madeDirectories = new Set<string>([base]);
  try {
    for await (const entry of extract) {
      const header = entry.header;
      const relative = stripTopFolder(header.name);
      if (relative === undefined) {
        entry.resume();
        continue;
      }
      if (++entries > maxEntries) {
        throw new ArchiveError("TOO_MANY_FILES", `the repository has more than ${maxEntries} files, folders and links, the limit`);
      }
      const target = path.resolve(base, relative);
      if (target !== base && !target.startsWith(base + path.sep)) {
        throw new ArchiveError("UNSAFE_PATH", `the repository archive holds a path outside the repository: ${JSON.stringify(header.name)}`);
      }
      if (relative.includes("\ufffd")) {
        // A name that is not UTF-8 arrives with its bytes replaced: the checkout could not name the repository's file,
        // and a commit through the API would add a new file beside it instead of changing it.
        entry.resume();
        if (header.type !== "directory") skipped.push({ path: relative, reason: "name is not UTF-8 (the GitHub API cannot name it)" });
        continue;
      }
      if (header.type === "directory") {
        entry.resume();
        await ensureDirectory(target, madeDirectories);
        continue;
      }
      if (header.type !== "file" && header.type !== "contiguous-file") {
        entry.resume();
        skipped.push({ path: relative, reason: describeType(header.type) });
        continue;
      }
      const size = header.size ?? 0;
      if (size > limits.maxFileBytes) {
        entry.resume();
        skipped.push({ path: relative, reason: `larger than ${Math.floor(limits.maxFileBytes / MiB)} MiB` });
        continue;
      }
      if (++files > limits.maxFiles) {
        throw new ArchiveError("TOO_MANY_FILES", `the repository has more than ${limits.maxFiles} files, the limit`);
      }
      await ensureDirectory(path.dirname(target), madeDirectories);
      // `wx`: never follow or replace anything already there (a duplicate entry is an error, not an overwrite).
      await pipeline(entry, createWriteStream(target, { flags: "wx", mode: 0o644 }));
      bytes += size;
      if ((header.mode ?? 0) & 0o111) executable.add(relative);
    }
    await feeding;
  } catch (error) {
    extract.destroy();
    gzipped.destroy();
    if (error instanceof ArchiveError) throw error;
    throw new ArchiveError("BAD_ARCHIVE", `the repository archive could not be unpacked: ${errorLine(error)}`);
  }
  return { files, bytes, executable, skipped };
}

/** `owner-repo-sha/dir/file` → `dir/file`; undefined for the top folder itself. Rejects what could escape. */
function stripTopFolder(name: string): string | undefined {
  if (name.includes("\0")) throw new ArchiveError("UNSAFE_PATH", `the repository archive holds a path with a NUL byte`);
  const parts = name.split("/").filter((part) => part !== "" && part !== ".");
  if (name.startsWith("/") || parts.includes("..")) {
    throw new ArchiveError("UNSAFE_PATH", `the repository archive holds a path outside the repository: ${JSON.stringify(name)}`);
  }
  parts.shift();
  return parts.length === 0 ? undefined : parts.join("/");
}

async function ensureDirectory(directory: string, made: Set<string>): Promise<void> {
  if (made.has(directory)) return;
  // No links are ever created under root, so every parent here is a real folder made by this extraction.
  await mkdir(directory, { recursive: true, mode: 0o755 });
  made.add(directory);
}

function describeType(type: string | null | undefined): string {
  switch (type) {
    case "symlink":
      return "symbolic link (not followed)";
    case "link":
      return "hard link (not followed)";
    default:
      return `${type ?? "unknown"} entry (only files are read)`;
  }
}
