// SQLite's write-ahead log (https://www.sqlite.org/fileformat2.html#walformat), replayed into the main file's bytes:
// rpm leaves its database in WAL mode with `rpmdb.sqlite-wal` beside it, and a layer may hold transactions there
// that never reached the main file. An in-memory SQLite (sql.js) cannot read a WAL, so the committed frames are
// written into the page image first, as a checkpoint would.

/** A database or WAL that cannot be read; the message says why. */
export class SqliteFormatError extends Error {
  override readonly name = "SqliteFormatError";
}

const HEADER = "SQLite format 3\u0000";
const WAL_MAGIC_LE = 0x377f0682;
const WAL_MAGIC_BE = 0x377f0683;
const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

/** The page size the main file's header declares (1 stands for 65536), or undefined when it is not SQLite. */
export function sqlitePageSize(db: Uint8Array): number | undefined {
  if (db.length < 100 || new TextDecoder().decode(db.subarray(0, 16)) !== HEADER) return undefined;
  const raw = (db[16]! << 8) | db[17]!;
  const size = raw === 1 ? 65536 : raw;
  return size >= 512 && (size & (size - 1)) === 0 ? size : undefined;
}

/** SQLite's WAL checksum: pairs of 32-bit words, summed Fibonacci-style into (s1, s2). */
function checksum(bytes: Uint8Array, bigEndian: boolean, s: [number, number]): [number, number] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let [s1, s2] = s;
  for (let i = 0; i + 8 <= bytes.length; i += 8) {
    s1 = (s1 + view.getUint32(i, !bigEndian) + s2) >>> 0;
    s2 = (s2 + view.getUint32(i + 4, !bigEndian) + s1) >>> 0;
  }
  return [s1, s2];
}

export interface WalReplay {
  /** The database as a checkpoint would leave it, marked as a rollback-journal database (no WAL to look for). */
  readonly image: Uint8Array;
  /** Committed frames written into it. */
  readonly frames: number;
}

/**
 * Writes the committed transactions of `wal` into a copy of `db`: frames are read in order while their salts match
 * the header's and their cumulative checksums hold, and those up to the last commit frame are applied, the file then
 * cut or grown to the size that commit gives. Uncommitted or torn frames after it are ignored, as SQLite ignores
 * them. `maxBytes` bounds the image. Throws SqliteFormatError when `db` (or the WAL's page size) is not SQLite's.
 */
export function replayWal(db: Uint8Array, wal: Uint8Array | undefined, maxBytes: number): WalReplay {
  const mainPageSize = db.length > 0 ? sqlitePageSize(db) : undefined;
  if (db.length > 0 && mainPageSize === undefined) throw new SqliteFormatError("the database is not an SQLite 3 file");
  const done = (image: Uint8Array, frames: number): WalReplay => {
    if (image.length >= 20) image[18] = image[19] = 1; // file format: legacy (rollback journal), not WAL
    return { image, frames };
  };
  if (!wal || wal.length < WAL_HEADER_BYTES) {
    if (mainPageSize === undefined) throw new SqliteFormatError("the database file is empty and there is no write-ahead log");
    return done(new Uint8Array(db), 0);
  }

  const header = new DataView(wal.buffer, wal.byteOffset, WAL_HEADER_BYTES);
  const magic = header.getUint32(0);
  const pageSize = header.getUint32(8);
  const validPageSize = pageSize >= 512 && pageSize <= 65536 && (pageSize & (pageSize - 1)) === 0;
  if ((magic !== WAL_MAGIC_LE && magic !== WAL_MAGIC_BE) || !validPageSize || (mainPageSize !== undefined && pageSize !== mainPageSize)) {
    // Not a log of this database (or garbage): SQLite would ignore it and read the main file.
    if (mainPageSize === undefined) throw new SqliteFormatError("the database file is empty and its write-ahead log is not valid");
    return done(new Uint8Array(db), 0);
  }
  const bigEndian = magic === WAL_MAGIC_BE;
  let sums = checksum(wal.subarray(0, 24), bigEndian, [0, 0]);
  if (sums[0] !== header.getUint32(24) || sums[1] !== header.getUint32(28)) {
    if (mainPageSize === undefined) throw new SqliteFormatError("the write-ahead log's header checksum does not match");
    return done(new Uint8Array(db), 0);
  }
  const salt1 = header.getUint32(16);
  const salt2 = header.getUint32(20);

  // The committed frames: the last page image of each page wins.
  const pages = new Map<number, Uint8Array>();
  let pending = new Map<number, Uint8Array>();
  let committedPages = 0;
  let frames = 0;
  let pendingFrames = 0;
  const frameBytes = FRAME_HEADER_BYTES + pageSize;
  for (let at = WAL_HEADER_BYTES; at + frameBytes <= wal.length; at += frameBytes) {
    const frame = new DataView(wal.buffer, wal.byteOffset + at, FRAME_HEADER_BYTES);
    const pageNumber = frame.getUint32(0);
    const commitSize = frame.getUint32(4);
    if (pageNumber === 0 || frame.getUint32(8) !== salt1 || frame.getUint32(12) !== salt2) break;
    sums = checksum(wal.subarray(at, at + 8), bigEndian, sums);
    sums = checksum(wal.subarray(at + FRAME_HEADER_BYTES, at + frameBytes), bigEndian, sums);
    if (sums[0] !== frame.getUint32(16) || sums[1] !== frame.getUint32(20)) break;
    pending.set(pageNumber, wal.subarray(at + FRAME_HEADER_BYTES, at + frameBytes));
    pendingFrames++;
    if (commitSize > 0) {
      for (const [n, page] of pending) pages.set(n, page);
      committedPages = commitSize;
      frames += pendingFrames;
      pending = new Map();
      pendingFrames = 0;
    }
  }
  if (frames === 0) {
    if (mainPageSize === undefined) throw new SqliteFormatError("the database file is empty and its write-ahead log holds no commit");
    return done(new Uint8Array(db), 0);
  }

  const size = committedPages * pageSize;
  if (size > maxBytes) throw new SqliteFormatError(`the database with its write-ahead log would be ${size} bytes, over the ${maxBytes}-byte limit`);
  const image = new Uint8Array(size);
  image.set(db.subarray(0, Math.min(db.length, size)));
  for (const [n, page] of pages) {
    if (n <= committedPages) image.set(page, (n - 1) * pageSize);
  }
  if (sqlitePageSize(image) === undefined) throw new SqliteFormatError("the database with its write-ahead log replayed is not an SQLite 3 file");
  return done(image, frames);
}
