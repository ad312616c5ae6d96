import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Package } from "../types.js";
import { MAX_PACKAGES } from "./fields.js";
import { berkeleyHashValues } from "./rpm-bdb.js";
import { parseRpmHeader, rpmPackage, RpmHeaderError } from "./rpm-header.js";
import { replayWal } from "./sqlite-wal.js";

/** The three database formats rpm has used: SQLite (rpm ≥ 4.16), Berkeley DB hash (before), NDB (SUSE). */
export type RpmDatabaseFormat = "sqlite" | "bdb" | "ndb";

/** An rpm database that cannot be read; the message says why. */
export class RpmDatabaseError extends Error {
  override readonly name = "RpmDatabaseError";
}

export interface RpmDatabaseFile {
  readonly format: RpmDatabaseFormat;
  readonly bytes: Uint8Array;
  /** The SQLite write-ahead log beside the database (`rpmdb.sqlite-wal`) in the same layer, if any. */
  readonly wal?: Uint8Array;
}

export interface RpmReadOptions {
  /** Purl namespace: the os-release ID ("rhel", "fedora", "amzn", "opensuse-leap"…). */
  readonly distro?: string;
  /** Largest database image built (the SQLite file with its log replayed). */
  readonly maxBytes: number;
}

export interface RpmPackages {
  readonly packages: Package[];
  /** Header blobs that were not headers rpm could have written (skipped). */
  readonly unreadable: number;
}

/**
 * The installed packages of an rpm database: every header blob it stores, parsed. Throws RpmDatabaseError (or the
 * format's own error) when the database as a whole cannot be read; a single bad blob is only counted.
 * Stops after MAX_PACKAGES + 1 packages.
 */
export async function readRpmDatabase(file: RpmDatabaseFile, options: RpmReadOptions): Promise<RpmPackages> {
  const blobs = file.format === "sqlite" ? await sqliteBlobs(file, options.maxBytes) : file.format === "bdb" ? berkeleyHashValues(file.bytes) : ndbBlobs(file.bytes);
  const packages: Package[] = [];
  let unreadable = 0;
  for (const blob of blobs) {
    if (packages.length > MAX_PACKAGES) break;
    // Berkeley DB keeps rpm's next-instance counter under key 0: four bytes, not a header.
    if (blob.length <= 8) continue;
    try {
      packages.push(rpmPackage(parseRpmHeader(blob), options.distro));
    } catch (error) {
      if (!(error instanceof RpmHeaderError)) throw error;
      unreadable++;
    }
  }
  return { packages, unreadable };
}

type SqlJs = typeof import("sql.js");
let sqlJs: ReturnType<Awaited<SqlJs>["default"]> | undefined;

/** sql.js (SQLite compiled to WebAssembly, no native build), loaded on first use only: most images are not rpm's. */
async function loadSqlJs(): ReturnType<Awaited<SqlJs>["default"]> {
  sqlJs ??= Promise.all([import("sql.js"), readFile(sqlWasmPath())]).then(([m, wasm]) =>
    m.default({ wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer }),
  );
  return sqlJs;
}

/** The WebAssembly of sql.js: in its package, or beside this file where a bundle (the GitHub Action) ships it. */
function sqlWasmPath(): string {
  try {
    return createRequire(import.meta.url).resolve("sql.js/dist/sql-wasm.wasm");
  } catch {
    return fileURLToPath(new URL("sql-wasm.wasm", import.meta.url));
  }
}

/** The `blob` of every row of rpm's `Packages` table, its write-ahead log replayed first. */
async function sqliteBlobs(file: RpmDatabaseFile, maxBytes: number): Promise<Uint8Array[]> {
  const { image } = replayWal(file.bytes, file.wal, maxBytes);
  const SQL = await loadSqlJs();
  let db;
  try {
    db = new SQL.Database(image);
  } catch (error) {
    throw new RpmDatabaseError(`the rpm database is not SQLite (${error instanceof Error ? error.message : String(error)})`);
  }
  try {
    // Only a plain table is read: a hostile file could make `Packages` a view or its `blob` a generated column that
    // computes without end. Table and column names are rpm's own.
    const kind = db.exec("SELECT type FROM sqlite_schema WHERE name = 'Packages'")[0]?.values[0]?.[0];
    if (kind !== "table") throw new RpmDatabaseError("the SQLite database has no Packages table: not an rpm database");
    const columns = db.exec("SELECT name, hidden FROM pragma_table_xinfo('Packages')")[0]?.values ?? [];
    const blobColumn = columns.find(([name]) => name === "blob");
    if (!blobColumn || blobColumn[1] !== 0) throw new RpmDatabaseError("the Packages table has no plain blob column: not an rpm database");
    const blobs: Uint8Array[] = [];
    const statement = db.prepare(`SELECT blob FROM Packages LIMIT ${MAX_PACKAGES + 1}`);
    try {
      while (statement.step()) {
        const value = statement.get()[0];
        if (value instanceof Uint8Array) blobs.push(value);
      }
    } finally {
      statement.free();
    }
    return blobs;
  } catch (error) {
    if (error instanceof RpmDatabaseError) throw error;
    throw new RpmDatabaseError(`the rpm database cannot be read (${error instanceof Error ? error.message.slice(0, 200) : String(error)})`);
  } finally {
    db.close();
  }
}

// NDB (rpm's lib/backend/ndb/rpmpkg.c), little-endian: a 32-byte header ("RpmP", version 0, generation, number of
// slot pages), slots of 16 bytes ("Slot", package index, block offset, block count) filling the slot pages after
// it, and blobs at block offset × 16: a 16-byte header ("BlbS", package index, generation, length), then the header.
const NDB_MAGIC = 0x506d7052; // "RpmP"
const NDB_SLOT_MAGIC = 0x746f6c53; // "Slot"
const NDB_BLOB_MAGIC = 0x53626c42; // "BlbS"
const NDB_PAGE = 4096;
const NDB_HEADER_BYTES = 32;
const NDB_SLOT_BYTES = 16;
const NDB_BLOCK = 16;

export function* ndbBlobs(file: Uint8Array): Generator<Uint8Array> {
  if (file.length < NDB_PAGE) throw new RpmDatabaseError("the file is too short for an rpm NDB database");
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (view.getUint32(0, true) !== NDB_MAGIC || view.getUint32(4, true) !== 0) throw new RpmDatabaseError("the file is not an rpm NDB database");
  const slotPages = view.getUint32(12, true);
  if (slotPages === 0 || slotPages * NDB_PAGE > file.length) throw new RpmDatabaseError(`the NDB database claims ${slotPages} slot pages`);
  for (let at = NDB_HEADER_BYTES; at + NDB_SLOT_BYTES <= slotPages * NDB_PAGE; at += NDB_SLOT_BYTES) {
    if (view.getUint32(at, true) !== NDB_SLOT_MAGIC) throw new RpmDatabaseError("the NDB database has a slot without its magic");
    const index = view.getUint32(at + 4, true);
    if (index === 0) continue; // a free slot
    const blob = view.getUint32(at + 8, true) * NDB_BLOCK;
    if (blob + 16 > file.length || view.getUint32(blob, true) !== NDB_BLOB_MAGIC || view.getUint32(blob + 4, true) !== index) {
      throw new RpmDatabaseError(`the NDB slot of package ${index} points to no blob of it`);
    }
    const length = view.getUint32(blob + 12, true);
    if (blob + 16 + length > file.length) throw new RpmDatabaseError(`the NDB blob of package ${index} runs past the end of the file`);
    yield file.subarray(blob + 16, blob + 16 + length);
  }
}
