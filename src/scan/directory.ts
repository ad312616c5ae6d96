import { statSync } from "node:fs";
import path from "node:path";
import { errorReason, FileReader, type BatchResult, type FileFindings } from "./read.js";
import type { BatchRequest, ReadPool } from "./read-pool.js";
import { walkFiles, walkMatchers, type WalkEntry } from "./walk.js";
import type { NotScannedFile, ScanOptions, ScanReport } from "./types.js";

export { MAX_REFERENCES_PER_FILE } from "./read.js";
export type { FileFindings } from "./read.js";

export const DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024;
/** Longest stretch of synchronous reading before the event loop gets a turn. */
const SLICE_MS = 10;
/** Files read as one unit, here or in a worker: large enough that handing one over costs little beside reading it. */
const BATCH_FILES = 64;
/** Worker threads start only once the walk has found this many files: a small tree is read before they would be up. */
const PARALLEL_AFTER_FILES = 1024;

/** What a scan counted, once every file has been reported. */
export interface ScanTotals {
  readonly filesScanned: number;
  readonly bytesScanned: number;
  /** Files and folders not scanned, with why, sorted by path. */
  readonly skippedFiles: NotScannedFile[];
  readonly unmatchedIncludes: readonly string[];
}

export interface StreamingScanOptions extends ScanOptions {
  /** Told each file holding references as soon as every file before it in path order has been read. */
  readonly onFindings: (file: FileFindings) => void;
  /** Hash each file holding references (`FileFindings.fingerprint`), for a rewrite to check against. */
  readonly fingerprints?: boolean;
}

/**
 * Scans every file under `root` for pinned references and hands each file's findings to `onFindings` in path
 * order, then offset order within a file, holding none of them: memory stays bounded whatever the size of the
 * tree. Symbolic links are listed as not scanned, never followed; binary, oversized, special and unreadable files
 * and directories are skipped and reported, never fatal. With `threads` above one, worker threads read batches of
 * files beside this one once the tree proves large; the findings come out in the same order either way.
 */
export async function scanTree(root: string, options: StreamingScanOptions): Promise<ScanTotals> {
  const absoluteRoot = path.resolve(root);
  assertDirectory(root, absoluteRoot);
  const readerOptions = { root: absoluteRoot, maxFileSize: options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE, fingerprints: options.fingerprints === true };
  const reader = new FileReader(readerOptions);
  // Files are read synchronously, in slices of a few milliseconds between which the event loop runs: on a warm
  // cache this is three to five times faster than promise-based reads (each of which costs several thread-pool
  // round trips). A worker sees no onTextFile: its bytes would have to be copied over.
  const threads = options.onTextFile ? 1 : Math.max(1, Math.floor(options.threads ?? 1));
  let pool: ReadPool | undefined;

  const skippedFiles: NotScannedFile[] = [];
  let filesScanned = 0;
  let bytesScanned = 0;
  // Batches are numbered in walk order; one read early (here, while a worker still reads an earlier one) waits
  // in `done` until all before it are reported.
  const done = new Map<number, BatchResult>();
  let nextSeq = 0;
  let nextReported = 0;
  const settle = (seq: number, result: BatchResult) => {
    done.set(seq, result);
    for (let ready = done.get(nextReported); ready; ready = done.get(nextReported)) {
      done.delete(nextReported++);
      filesScanned += ready.filesScanned;
      bytesScanned += ready.bytesScanned;
      skippedFiles.push(...ready.notScanned);
      for (const file of ready.findings) options.onFindings(file);
    }
  };
  const readHere = (request: BatchRequest) => settle(request.seq, reader.readBatch(request.paths, options.onTextFile));
  const absorb = ({ replies, orphans }: ReturnType<ReadPool["collect"]>) => {
    for (const reply of replies) settle(reply.seq, reply.result);
    for (const orphan of orphans) readHere(orphan);
  };

  let batch: string[] = [];
  let sliceStarted = Date.now();
  /** Takes one entry of the walk, reading or handing over a batch when one is full; true when the slice is over. */
  const take = (entry: WalkEntry): boolean => {
    const relative = entry.path;
    if (entry.kind === "error") {
      skippedFiles.push({ path: relative, kind: "unreadable", reason: `directory not readable: ${errorReason(entry.error)}` });
    } else if (entry.kind === "symlink") {
      skippedFiles.push({ path: relative, kind: "symlink", reason: "symbolic link (not followed)" });
    } else if (entry.kind === "special") {
      skippedFiles.push({ path: relative, kind: "special", reason: "not a regular file (FIFO, socket or device)" });
    } else {
      batch.push(relative);
    }
    if (batch.length < BATCH_FILES) return false;
    const request = { seq: nextSeq++, paths: batch };
    batch = [];
    if (!pool?.offer(request)) readHere(request);
    if (pool) absorb(pool.collect());
    return Date.now() - sliceStarted > SLICE_MS;
  };
  const breathe = async () => {
    options.onProgress?.(filesScanned, bytesScanned);
    await new Promise((resolve) => setImmediate(resolve));
    sliceStarted = Date.now();
  };

  const matchedIncludes = new Set<string>();
  // `.git` and `node_modules` are always skipped (walk.ts).
  const walk = walkFiles(
    absoluteRoot,
    await walkMatchers({ ...(options.include ? { include: options.include, matchedIncludes } : {}), ...(options.exclude ? { exclude: options.exclude } : {}) }),
  );
  // The walk runs ahead of the reading by up to PARALLEL_AFTER_FILES files, so that on a tree that large the
  // worker threads start before the first file is read (one takes about a tenth of a second to start).
  const ahead: WalkEntry[] = [];
  let aheadFiles = 0;
  while (aheadFiles < PARALLEL_AFTER_FILES) {
    const next = walk.next();
    if (next.done) break;
    ahead.push(next.value);
    if (next.value.kind === "file") aheadFiles++;
  }
  if (threads > 1 && aheadFiles === PARALLEL_AFTER_FILES) {
    const { ReadPool } = await import("./read-pool.js");
    pool = new ReadPool(threads - 1, readerOptions);
  }
  try {
    for (const entry of ahead) if (take(entry)) await breathe();
    for (const entry of walk) if (take(entry)) await breathe();
    if (batch.length > 0) readHere({ seq: nextSeq++, paths: batch });
    while (pool && pool.outstanding > 0) {
      await pool.waitForReplies();
      absorb(pool.collect());
    }
  } finally {
    pool?.close();
  }

  skippedFiles.sort((a, b) => comparePaths(a.path, b.path));
  return { filesScanned, bytesScanned, skippedFiles, unmatchedIncludes: (options.include ?? []).filter((pattern) => !matchedIncludes.has(pattern)) };
}

/** `scanTree`, with every finding collected into one report, and the fingerprints a rewrite checks. */
export async function scanDirectory(root: string, options: ScanOptions = {}): Promise<ScanReport> {
  const files: FileFindings[] = [];
  const totals = await scanTree(root, { ...options, fingerprints: true, onFindings: (file) => files.push(file) });
  return {
    ...totals,
    pinned: files.flatMap((file) => file.pinned),
    skipped: files.flatMap((file) => file.skipped),
    fingerprints: new Map(files.filter((file) => file.pinned.length > 0).map((file) => [file.path, file.fingerprint!])),
  };
}

function assertDirectory(root: string, absoluteRoot: string): void {
  let info;
  try {
    info = statSync(absoluteRoot);
  } catch (error) {
    throw new Error(`cannot scan ${JSON.stringify(root)}: ${errorReason(error)}`);
  }
  if (!info.isDirectory()) throw new Error(`cannot scan ${JSON.stringify(root)}: not a directory`);
}

function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
