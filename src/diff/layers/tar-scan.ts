import { posix } from "node:path";
import { pipeline, Transform, type Readable } from "node:stream";
import tar from "tar-stream";
import { apkDistroOf } from "../parse/apk-installed.js";
import { classifyPath, isWithin, normalizeEntryPath, parseWhiteout, whiteoutMatters, type DatabaseFile, type Whiteout } from "./paths.js";
import { decompressor, detectCompression, LayerFormatError, peek, type LayerCompression } from "./decompress.js";

/** A package database file (or os-release) found in a layer, with its text. */
export interface FoundFile {
  readonly path: string;
  readonly file: DatabaseFile;
  /** The file's text; empty for the binary RPM databases and logs. */
  readonly text: string;
  /** The bytes of an RPM database or write-ahead log. */
  readonly bytes?: Uint8Array;
}

/** What one layer holds that matters to the package-database search. */
export interface LayerFindings {
  /**
   * The whole layer was read. When false, reading stopped right after a database that answers the search;
   * whiteouts and files after it in the tar are unknown.
   */
  readonly complete: boolean;
  readonly files: readonly FoundFile[];
  /** Only the whiteouts that can hide a database path or os-release. */
  readonly whiteouts: readonly Whiteout[];
  /** Files skipped for being over the size limit, by path. */
  readonly oversized: readonly string[];
}

export interface LayerScanOptions {
  /** Paths the upper layers deleted: files there are not part of the image. */
  readonly hidden?: (path: string) => boolean;
  /** Largest database file read into memory; bigger ones are skipped and reported in `oversized`. */
  readonly maxFileBytes?: number;
  /** Largest os-release read. */
  readonly maxOsReleaseBytes?: number;
  /**
   * An os-release is already known from the upper layers. Without one, a read that finds an apk database naming no
   * distribution (apkDistroOf) goes on through the layer for the os-release.
   */
  readonly osReleaseKnown?: boolean;
  /** Only an os-release is still wanted (the database was found above): stop as soon as a visible one is read. */
  readonly untilOsRelease?: boolean;
  /** Compressed bytes the layer may hold (its descriptor's size): a registry sending more is refused, not read on. */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
}

export interface LayerScan {
  readonly findings: LayerFindings;
  readonly compression: LayerCompression;
  /** Compressed bytes taken from the source before reading stopped. */
  readonly bytesRead: number;
}

export const DEFAULT_MAX_DATABASE_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_OS_RELEASE_BYTES = 64 * 1024;

/** A database that settles the search by itself: nothing below it (and nothing later in its tar but its own log) matters. */
export function isDecisive(found: FoundFile): boolean {
  return found.file.kind === "apk" || found.file.kind === "rpm" || (found.file.kind === "dpkg-status" && found.text.trim() !== "");
}

/**
 * Reads a layer blob (gzip, zstd or plain tar, told apart by magic bytes) as a stream, collecting package database
 * files, os-release and the whiteouts that matter. Stops as soon as a decisive database that the upper layers do not
 * hide has been read, and for an apk database naming no distribution, its os-release too (the stream is then
 * destroyed: no further bytes are pulled). Holds at most one database file in memory at a time besides those it returns.
 * Throws LayerFormatError (or the stream's error) when the layer cannot be read.
 */
export async function scanLayer(source: Readable, options: LayerScanOptions = {}): Promise<LayerScan> {
  const hidden = options.hidden ?? (() => false);
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_DATABASE_BYTES;
  const maxOsReleaseBytes = options.maxOsReleaseBytes ?? DEFAULT_MAX_OS_RELEASE_BYTES;
  options.signal?.throwIfAborted();

  const { head, stream } = await peek(source, 4);
  const compression = detectCompression(head);
  let bytesRead = 0;
  const maxBytes = options.maxBytes ?? Infinity;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytesRead += chunk.length;
      if (bytesRead > maxBytes) callback(new LayerFormatError(`the layer is larger than the ${maxBytes} bytes its manifest declares`));
      else callback(null, chunk);
    },
  });
  const extract = tar.extract();
  let pipelineError: Error | undefined;
  const stage = decompressor(compression);
  const done = (error: NodeJS.ErrnoException | null): void => {
    if (error) pipelineError = error;
  };
  if (stage) pipeline(stream, counter, stage, extract, done);
  else pipeline(stream, counter, extract, done);

  const onAbort = (): void => {
    stream.destroy(options.signal?.reason instanceof Error ? options.signal.reason : new Error("aborted"));
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const files: FoundFile[] = [];
  const whiteouts: Whiteout[] = [];
  const oversized: string[] = [];
  let complete = true;
  let osReleaseKnown = options.osReleaseKnown ?? false;
  let database: FoundFile | undefined;
  let walFound = false;
  /**
   * The read can end before the entry at `next`: a decisive database is in hand, with its distribution known where
   * the purls need it (apk), and with its write-ahead log where it may have one (rpm's SQLite: the log comes beside
   * it, so the read goes on while entries are in its directory).
   */
  const answered = (next?: string): boolean => {
    if (options.untilOsRelease) return osReleaseKnown;
    if (!database) return false;
    if (database.file.kind === "apk") return osReleaseKnown || apkDistroOf(database.text) !== undefined;
    if (database.file.kind === "rpm" && database.file.format === "sqlite") {
      return walFound || (next !== undefined && !isWithin(next, posix.dirname(database.path)));
    }
    return true;
  };
  const isWalOf = (f: FoundFile, db: FoundFile): boolean => f.file.kind === "rpm-wal" && f.path === `${db.path}-wal`;
  try {
    for await (const entry of extract) {
      const path = normalizeEntryPath(entry.header.name);
      if (answered(path)) {
        complete = false;
        break;
      }
      const whiteout = parseWhiteout(path);
      if (whiteout) {
        if (whiteoutMatters(whiteout)) whiteouts.push(whiteout);
        entry.resume();
        continue;
      }
      const file = classifyPath(path);
      const type = entry.header.type ?? "file";
      // Files the upper layers hide are still recorded (the findings are cached by layer digest and may serve an
      // image where they are visible); they just do not end the read.
      if (!file || (type !== "file" && type !== "contiguous-file")) {
        entry.resume();
        continue;
      }
      const binary = file.kind === "rpm" || file.kind === "rpm-wal";
      const bytes = await readBytes(entry, file.kind === "os-release" ? maxOsReleaseBytes : maxFileBytes);
      if (bytes === undefined) {
        oversized.push(path);
        continue;
      }
      const found: FoundFile = binary ? { path, file, text: "", bytes } : { path, file, text: bytes.toString("utf8") };
      files.push(found);
      if (!hidden(path)) {
        if (file.kind === "os-release") osReleaseKnown = true;
        else if (isDecisive(found) && !database) {
          database = found;
          walFound = files.some((f) => isWalOf(f, found));
        } else if (database && isWalOf(found, database)) walFound = true;
      }
      if (answered()) {
        complete = false;
        break;
      }
    }
  } catch (error) {
    throw asLayerError(options.signal?.aborted ? options.signal.reason : (pipelineError ?? error));
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    if (!complete) stream.destroy();
  }
  options.signal?.throwIfAborted();
  if (pipelineError && complete) throw asLayerError(pipelineError);
  return { findings: { complete, files, whiteouts, oversized }, compression, bytesRead };
}

type TarEntry = tar.Extract extends AsyncIterable<infer E> ? E : never;

/** The entry's bytes, or undefined (entry drained) when it is longer than `limit` bytes. */
async function readBytes(entry: TarEntry, limit: number): Promise<Buffer | undefined> {
  if ((entry.header.size ?? 0) > limit) {
    entry.resume();
    return undefined;
  }
  // The header's size is checked above, but the entry is drained to its end either way (leaving the loop early
  // would tear down the whole tar stream), keeping nothing once it is known to be too long.
  let parts: Uint8Array[] | undefined = [];
  let length = 0;
  for await (const chunk of entry as AsyncIterable<Uint8Array>) {
    length += chunk.length;
    if (length > limit) parts = undefined;
    parts?.push(chunk);
  }
  return parts && Buffer.concat(parts, length);
}

function asLayerError(error: unknown): Error {
  if (error instanceof LayerFormatError) return error;
  if (error instanceof Error) {
    if (error.name === "AbortError") return error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "Z_DATA_ERROR" || code === "Z_BUF_ERROR") return new LayerFormatError(`layer is not valid gzip (${error.message})`);
    if (/tar header|unexpected end/i.test(error.message)) return new LayerFormatError(`layer is not a valid tar (${error.message})`);
    return error;
  }
  return new LayerFormatError(String(error));
}
