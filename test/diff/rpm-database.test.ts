// rpm databases as Debian's rpm writes them (SQLite, left in WAL mode) and as Berkeley DB writes rpm's header blobs,
// read by digesta and checked against what `rpm -qa` says, then pushed as image layers and diffed end to end.
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffImages } from "../../src/diff/image-diff.js";
import { renderImageDiffText } from "../../src/diff/markdown.js";
import { scanLayer } from "../../src/diff/layers/tar-scan.js";
import { berkeleyHashValues } from "../../src/diff/parse/rpm-bdb.js";
import { readRpmDatabase, type RpmDatabaseFile } from "../../src/diff/parse/rpm-database.js";
import { parseRpmHeader, RpmHeaderError } from "../../src/diff/parse/rpm-header.js";
import { replayWal } from "../../src/diff/parse/sqlite-wal.js";
import type { Package } from "../../src/diff/types.js";
import type { ImageName } from "../../src/reference/types.js";
import { createRegistryClient } from "../../src/registry/client.js";
import { anonymousCredentials } from "../../src/registry/credentials.js";
import { file, layer, pushImage, tar, type LayerFile } from "../support/images.js";
import { osRelease } from "../support/package-dbs.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { nevra, run, RpmWorkspace, type RpmSpec } from "../support/rpm-dbs.js";

const OPENSSL_24: RpmSpec = { name: "openssl-libs", version: "3.0.7", release: "24.el9", epoch: 1, arch: "x86_64" };
const OPENSSL_25: RpmSpec = { ...OPENSSL_24, release: "25.el9" };
const BASH: RpmSpec = { name: "bash", version: "5.1.8", release: "6.el9_1" };
const ZLIB: RpmSpec = { name: "zlib", version: "1.2.11", release: "40.el9" };
const CA: RpmSpec = { name: "ca-certificates", version: "2024.2.69_v8.0.303", release: "91.4.el9_4" };

interface Fixture {
  /** The old database, checkpointed (rpm's state after a lone transaction). */
  old: { sqlite: Buffer; wal: Buffer; rpmSays: string[]; blobs: Array<[number, Buffer]> };
  /** The new database: openssl upgraded, zlib erased, ca-certificates installed, the last step left in the WAL. */
  new: { sqlite: Buffer; wal: Buffer; rpmSays: string[]; rpmSaidBeforeWal: string[]; blobs: Array<[number, Buffer]> };
}

let fx: Fixture;
let reg: TestRegistry;

beforeAll(async () => {
  const ws = await RpmWorkspace.create(join(tmpdir(), `digesta-rpm-${process.pid}`));
  await Promise.all([OPENSSL_24, OPENSSL_25, BASH, ZLIB, CA].map((s) => ws.build(s)));
  const oldDb = await ws.initDb("old");
  await ws.install(oldDb, [OPENSSL_24, BASH, ZLIB]);
  const { readFile } = await import("node:fs/promises");
  const old = {
    sqlite: await readFile(join(oldDb, "rpmdb.sqlite")),
    wal: await readFile(join(oldDb, "rpmdb.sqlite-wal")),
    rpmSays: await ws.query(oldDb),
    blobs: await ws.headerBlobs(oldDb),
  };
  const newDb = await ws.initDb("new");
  await ws.install(newDb, [OPENSSL_24, BASH, ZLIB]);
  await ws.upgrade(newDb, [OPENSSL_25]);
  await ws.erase(newDb, ["zlib"]);
  const rpmSaidBeforeWal = await ws.query(newDb);
  const left = await ws.leavingWal(newDb, () => ws.install(newDb, [CA]));
  fx = {
    old,
    new: { ...left, rpmSays: await ws.query(newDb), rpmSaidBeforeWal, blobs: await ws.headerBlobs(newDb) },
  };
  reg = await startRegistry();
}, 120_000);

afterAll(async () => {
  await reg?.stop();
});

/** `name-[epoch:]version-release.arch source-rpm`, as the workspace's `rpm -qa --qf` prints it. */
const asRpmSays = (packages: readonly Package[]): string[] =>
  packages.map((p) => `${p.name}-${p.version}.${p.arch} ${p.origin}`).sort();

const read = (file: RpmDatabaseFile, distro?: string) => readRpmDatabase(file, { maxBytes: 64 << 20, ...(distro && { distro }) });

describe("rpm databases written by rpm", () => {
  it("reads every header of rpm's SQLite database as rpm -qa lists it", async () => {
    expect(fx.old.wal.length).toBe(0); // rpm checkpointed its lone transaction
    const { packages, unreadable } = await read({ format: "sqlite", bytes: fx.old.sqlite, wal: fx.old.wal }, "rhel");
    expect(unreadable).toBe(0);
    expect(asRpmSays(packages)).toEqual(fx.old.rpmSays);
    expect(fx.old.rpmSays).toContain(`${nevra(OPENSSL_24)} openssl-libs-3.0.7-24.el9.src.rpm`);
    expect(packages.find((p) => p.name === "openssl-libs")).toEqual({
      type: "rpm",
      name: "openssl-libs",
      version: "1:3.0.7-24.el9",
      arch: "x86_64",
      origin: "openssl-libs-3.0.7-24.el9.src.rpm",
      purl: "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1&upstream=openssl-libs-3.0.7-24.el9.src.rpm",
    });
  });

  it("replays the transactions rpm left in the write-ahead log", async () => {
    expect(fx.new.wal.length).toBeGreaterThan(0);
    const withLog = await read({ format: "sqlite", bytes: fx.new.sqlite, wal: fx.new.wal });
    expect(asRpmSays(withLog.packages)).toEqual(fx.new.rpmSays);
    expect(fx.new.rpmSays.some((p) => p.startsWith("ca-certificates-"))).toBe(true);
    // The main file alone is the database before that transaction.
    const without = await read({ format: "sqlite", bytes: fx.new.sqlite });
    expect(asRpmSays(without.packages)).toEqual(fx.new.rpmSaidBeforeWal);
  });

  it("ignores a transaction whose frames are torn or fail their checksum, as SQLite does", async () => {
    const { frames } = replayWal(fx.new.sqlite, fx.new.wal, 64 << 20);
    expect(frames).toBeGreaterThan(0);
    const torn = Buffer.from(fx.new.wal.subarray(0, fx.new.wal.length - 100));
    const flipped = Buffer.from(fx.new.wal);
    flipped[flipped.length - 10]! ^= 0xff;
    for (const wal of [torn, flipped]) {
      const { packages } = await read({ format: "sqlite", bytes: fx.new.sqlite, wal });
      expect(asRpmSays(packages)).toEqual(fx.new.rpmSaidBeforeWal);
    }
  });

  it("ignores a write-ahead log of another page size or with a broken header", async () => {
    const broken = Buffer.from(fx.new.wal);
    broken[30]! ^= 0xff; // header checksum
    const { packages } = await read({ format: "sqlite", bytes: fx.new.sqlite, wal: broken });
    expect(asRpmSays(packages)).toEqual(fx.new.rpmSaidBeforeWal);
  });

  for (const pageSize of [4096, 512]) {
    it(`reads a Berkeley DB hash Packages (${pageSize}-byte pages) made by db5.3_load from rpm's header blobs`, async () => {
      const bdb = await new RpmWorkspace(join(tmpdir(), `digesta-rpm-${process.pid}`)).berkeleyDb(fx.new.blobs, pageSize);
      const { packages, unreadable } = await read({ format: "bdb", bytes: bdb }, "centos");
      expect(unreadable).toBe(0);
      expect(asRpmSays(packages)).toEqual(fx.new.rpmSays);
      expect(packages.find((p) => p.name === "bash")?.purl).toBe("pkg:rpm/centos/bash@5.1.8-6.el9_1?arch=noarch&upstream=bash-5.1.8-6.el9_1.src.rpm");
      // Every header blob comes back byte for byte.
      const values = [...berkeleyHashValues(bdb)].filter((v) => v.length > 8).map((v) => Buffer.from(v).toString("hex")).sort();
      expect(values).toEqual(fx.new.blobs.map(([, b]) => b.toString("hex")).sort());
    });
  }

  it("reads an NDB Packages.db laid out as rpm's rpmpkg.c writes it (Debian's rpm has no NDB backend to write one)", async () => {
    const ndb = ndbFile(fx.new.blobs);
    const { packages } = await read({ format: "ndb", bytes: ndb }, "opensuse-leap");
    expect(asRpmSays(packages)).toEqual(fx.new.rpmSays);
    expect(packages[0]?.purl).toMatch(/^pkg:rpm\/opensuse-leap\//);
    // A slot pointing at another package's blob is refused, not misread.
    const wrong = Buffer.from(ndb);
    wrong.writeUInt32LE(99, 32 + 4);
    await expect(read({ format: "ndb", bytes: wrong })).rejects.toThrow(/points to no blob of it/);
  });

  it("refuses what is not an rpm database with a one-line error, never a crash", async () => {
    const cases: RpmDatabaseFile[] = [
      { format: "sqlite", bytes: Buffer.from("SQLite format 3\0".padEnd(4096, "\u0001")) },
      { format: "sqlite", bytes: Buffer.alloc(0) },
      { format: "bdb", bytes: Buffer.alloc(8192, 7) },
      { format: "ndb", bytes: Buffer.alloc(8192, 7) },
    ];
    for (const file of cases) {
      const error = await read(file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, file.format).toBeInstanceOf(Error);
      expect((error as Error).message).not.toContain("\n");
    }
  });

  it("refuses an SQLite database whose Packages is a view, not reading through it", async () => {
    const ws = new RpmWorkspace(join(tmpdir(), `digesta-rpm-${process.pid}`));
    const path = join(ws.dir, "view.sqlite");
    await run("sqlite3", [path, "CREATE TABLE t(x); CREATE VIEW Packages AS WITH RECURSIVE c(blob) AS (SELECT x'00' UNION ALL SELECT blob FROM c) SELECT blob FROM c;"]);
    const { readFile } = await import("node:fs/promises");
    await expect(read({ format: "sqlite", bytes: await readFile(path) })).rejects.toThrow(/no Packages table/);
  });

  it("parses header blobs defensively: lengths are checked, not trusted", () => {
    const blob = fx.old.blobs[0]![1];
    expect(parseRpmHeader(blob).name).toBeTruthy();
    const lying = Buffer.from(blob);
    lying.writeUInt32BE(0x0fffffff, 4); // data length past the blob
    expect(() => parseRpmHeader(lying)).toThrow(RpmHeaderError);
    expect(() => parseRpmHeader(Buffer.from([0, 0, 0, 1]))).toThrow(RpmHeaderError);
    const many = Buffer.from(blob);
    many.writeUInt32BE(0x10000, 0);
    expect(() => parseRpmHeader(many)).toThrow(RpmHeaderError);
  });
});

describe("rpm databases in image layers", () => {
  const name = (repository: string): ImageName => ({ registry: reg.host, repository });
  const client = () => createRegistryClient({ credentials: anonymousCredentials, retries: 0, env: {} });
  const filler = (tag: string) => layer([file(`usr/share/${tag}/README`, `${tag}\n`.repeat(2000))]);
  const sqliteFiles = (dir: string, db: { sqlite: Buffer; wal: Buffer }): LayerFile[] => [
    file("usr/lib/os-release", osRelease("rhel", "Red Hat Enterprise Linux")),
    file(`${dir}/rpmdb.sqlite`, db.sqlite),
    file(`${dir}/rpmdb.sqlite-shm`, Buffer.alloc(32768)),
    file(`${dir}/rpmdb.sqlite-wal`, db.wal),
  ];

  const expectRhelDiff = (diff: Awaited<ReturnType<typeof diffImages>>): void => {
    expect(diff.source).toEqual({ previous: "rpm", current: "rpm" });
    expect(diff.warnings).toEqual([]);
    expect(diff.packages.added.map((p) => `${p.name}@${p.version}`)).toEqual([`ca-certificates@${CA.version}-${CA.release}`]);
    expect(diff.packages.removed.map((p) => `${p.name}@${p.version}`)).toEqual([`zlib@${ZLIB.version}-${ZLIB.release}`]);
    expect(diff.packages.changed).toEqual([
      {
        name: "openssl-libs",
        type: "rpm",
        arch: "x86_64",
        origin: "openssl-libs-3.0.7-25.el9.src.rpm",
        previous: {
          version: "1:3.0.7-24.el9",
          reference: "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1&upstream=openssl-libs-3.0.7-24.el9.src.rpm",
        },
        current: {
          version: "1:3.0.7-25.el9",
          reference: "pkg:rpm/redhat/openssl-libs@3.0.7-25.el9?arch=x86_64&epoch=1&upstream=openssl-libs-3.0.7-25.el9.src.rpm",
        },
        classification: "distribution-update",
        major: false,
      },
    ]);
  };

  it("diffs two images whose SQLite databases rpm wrote, the new one's last transaction still in its WAL", async () => {
    const repo = "rpm/sqlite";
    const before = await pushImage(reg, repo, { layers: [await filler("base"), await layer(sqliteFiles("var/lib/rpm", fx.old))] });
    const after = await pushImage(reg, repo, { layers: [await filler("base"), await layer(sqliteFiles("usr/lib/sysimage/rpm", fx.new))] });
    const diff = await diffImages(client(), name(repo), before.digest, after.digest);
    expectRhelDiff(diff);
    expect(renderImageDiffText(diff)).toContain("openssl-libs  1:3.0.7-24.el9  ->  1:3.0.7-25.el9  distribution update");
  });

  it("diffs two images whose Berkeley DB Packages db5.3_load wrote", async () => {
    const repo = "rpm/bdb";
    const ws = new RpmWorkspace(join(tmpdir(), `digesta-rpm-${process.pid}`));
    const bdb = async (blobs: Array<[number, Buffer]>) =>
      layer([file("etc/os-release", osRelease("rhel")), file("var/lib/rpm/Packages", await ws.berkeleyDb(blobs))]);
    const before = await pushImage(reg, repo, { layers: [await bdb(fx.old.blobs)] });
    const after = await pushImage(reg, repo, { layers: [await filler("x"), await bdb(fx.new.blobs)] });
    expectRhelDiff(await diffImages(client(), name(repo), before.digest, after.digest));
  });

  it("stops reading a layer right after the database and its log, not at its end", async () => {
    const big = randomBytes(4 * 1024 * 1024);
    const bytes = gzipSync(await tar([...sqliteFiles("var/lib/rpm", fx.new), file("var/lib/rpm-state/x", ""), file("var/tmp/big", big)]));
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (let at = 0; at < bytes.length; at += 16 * 1024) {
          pulled += 16 * 1024;
          yield bytes.subarray(at, at + 16 * 1024);
        }
      })(),
    );
    const scan = await scanLayer(source);
    expect(scan.findings.files.map((f) => f.file.kind)).toEqual(["os-release", "rpm", "rpm-wal"]);
    expect(scan.findings.complete).toBe(false);
    expect(pulled).toBeLessThan(bytes.length / 2);
  });

  it("reads the log that comes before the database in the tar too", async () => {
    const [osr, db, shm, wal] = sqliteFiles("var/lib/rpm", fx.new) as [LayerFile, LayerFile, LayerFile, LayerFile];
    const bytes = await tar([osr, wal, shm, db, file("var/tmp/after", "x")]);
    const scan = await scanLayer(Readable.from([Buffer.from(bytes)]));
    expect(scan.findings.files.map((f) => f.file.kind)).toEqual(["os-release", "rpm-wal", "rpm"]);
    expect(scan.findings.complete).toBe(false);
  });

  it("says an rpm database it cannot read is unknown, with a warning naming it", async () => {
    const repo = "rpm/broken";
    const before = await pushImage(reg, repo, { layers: [await layer(sqliteFiles("var/lib/rpm", fx.old))] });
    const after = await pushImage(reg, repo, { layers: [await layer([file("var/lib/rpm/rpmdb.sqlite", "SQLite format 3\0 but not really")])] });
    const diff = await diffImages(client(), name(repo), before.digest, after.digest);
    expect(diff.packagesUnknown).toBe(true);
    expect(diff.warnings.some((w) => w.includes("could not read the rpm database /var/lib/rpm/rpmdb.sqlite"))).toBe(true);
    expect(renderImageDiffText(diff)).toContain("package changes unknown");
  });
});

/**
 * An NDB database as rpm's lib/backend/ndb/rpmpkg.c lays it out, little-endian: a 32-byte header ("RpmP", version 0,
 * generation, slot pages), 16-byte slots ("Slot", package index, block offset, block count) filling the slot page,
 * and each blob at block offset × 16: "BlbS", package index, generation, length, the header, then its tail.
 */
function ndbFile(blobs: ReadonlyArray<readonly [number, Uint8Array]>): Buffer {
  const page = 4096;
  const parts: Buffer[] = [];
  const slots = Buffer.alloc(page);
  slots.write("RpmP", 0, "latin1");
  slots.writeUInt32LE(0, 4);
  slots.writeUInt32LE(1, 8);
  slots.writeUInt32LE(1, 12);
  for (let at = 32; at < page; at += 16) slots.write("Slot", at, "latin1");
  let block = page / 16;
  blobs.forEach(([index, header], i) => {
    const length = 16 + header.length + 12;
    const blocks = Math.ceil(length / 16);
    const blob = Buffer.alloc(blocks * 16);
    blob.write("BlbS", 0, "latin1");
    blob.writeUInt32LE(index, 4);
    blob.writeUInt32LE(1, 8);
    blob.writeUInt32LE(header.length, 12);
    Buffer.from(header).copy(blob, 16);
    blob.writeUInt32LE(header.length, blob.length - 8);
    blob.write("BlbE", blob.length - 4, "latin1");
    const slot = 32 + i * 16;
    slots.writeUInt32LE(index, slot + 4);
    slots.writeUInt32LE(block, slot + 8);
    slots.writeUInt32LE(blocks, slot + 12);
    parts.push(blob);
    block += blocks;
  });
  return Buffer.concat([slots, ...parts]);
}
