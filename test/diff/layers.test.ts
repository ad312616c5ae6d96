import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import tar from "tar-stream";
import { detectCompression, LayerFormatError, ZstdFrameGuard } from "../../src/diff/layers/decompress.js";
import { scanLayer } from "../../src/diff/layers/tar-scan.js";
import { apkInstalled, dpkgParagraph, osRelease } from "../support/package-dbs.js";

type TarEntry = { path: string; content?: string | Buffer; type?: "file" | "directory" | "symlink"; linkname?: string };

async function tarOf(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === "directory") pack.entry({ name: e.path, type: "directory" });
    else if (e.type === "symlink") pack.entry({ name: e.path, type: "symlink", linkname: e.linkname ?? "x" });
    else pack.entry({ name: e.path }, e.content ?? "");
  }
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

const zstd = (bytes: Buffer, ...args: string[]): Buffer => execFileSync("zstd", ["-q", "-c", ...args], { input: bytes, maxBuffer: 1 << 28 });

/** A stream handing out `bytes` in chunks, counting what was pulled from it. */
function chunked(bytes: Buffer, size = 16 * 1024): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= bytes.length) this.push(null);
      else {
        this.push(bytes.subarray(at, at + size));
        at += size;
      }
    },
  });
}

const APK = apkInstalled([{ name: "busybox", version: "1.36.1-r2" }]);
/** A database that names its distribution through its own baselayout package: the read can stop right after it. */
const APK_WOLFI = apkInstalled([
  { name: "busybox", version: "1.36.1-r2" },
  { name: "wolfi-baselayout", version: "20230201-r15" },
]);

describe("detectCompression", () => {
  it("tells gzip, zstd and plain tar apart by their first bytes", async () => {
    const plain = await tarOf([{ path: "a", content: "x" }]);
    expect(detectCompression(plain)).toBe("none");
    expect(detectCompression(gzipSync(plain))).toBe("gzip");
    expect(detectCompression(zstd(plain))).toBe("zstd");
    expect(detectCompression(new Uint8Array())).toBe("none");
  });
});

describe("scanLayer", () => {
  for (const [label, encode] of [
    ["plain tar", (b: Buffer) => b],
    ["gzip", (b: Buffer) => gzipSync(b)],
    ["zstd", (b: Buffer) => zstd(b)],
  ] as const) {
    it(`finds the apk database and os-release in a ${label} layer`, async () => {
      const layer = encode(
        await tarOf([
          { path: "etc/", type: "directory" },
          { path: "etc/os-release", content: osRelease("wolfi") },
          { path: "./lib/apk/db/installed", content: APK },
        ]),
      );
      const scan = await scanLayer(chunked(layer));
      expect(scan.compression).toBe(label === "plain tar" ? "none" : label);
      expect(scan.findings.files.map((f) => [f.path, f.file.kind, f.text])).toEqual([
        ["etc/os-release", "os-release", osRelease("wolfi")],
        ["lib/apk/db/installed", "apk", APK],
      ]);
      expect(scan.findings.complete).toBe(false);
    });
  }

  it("keeps only the whiteouts that can hide a database, and opaque markers", async () => {
    const layer = await tarOf([
      { path: "usr/share/doc/.wh.readme" },
      { path: "lib/apk/db/.wh.installed" },
      { path: "var/lib/.wh.dpkg" },
      { path: "var/lib/dpkg/status.d/.wh.libssl3" },
      { path: "var/lib/dpkg/status.d/.wh..wh..opq" },
      { path: "usr/.wh..wh..opq" },
      { path: "tmp/.wh..wh..opq" },
      { path: "var/.wh..wh.plnk" },
    ]);
    const scan = await scanLayer(chunked(layer));
    expect(scan.findings.whiteouts).toEqual([
      { kind: "delete", path: "lib/apk/db/installed" },
      { kind: "delete", path: "var/lib/dpkg" },
      { kind: "delete", path: "var/lib/dpkg/status.d/libssl3" },
      { kind: "opaque", dir: "var/lib/dpkg/status.d" },
      { kind: "opaque", dir: "usr" },
    ]);
    expect(scan.findings.complete).toBe(true);
  });

  it("collects distroless status.d files (not their md5sums) and reads the whole layer for them", async () => {
    const layer = gzipSync(
      await tarOf([
        { path: "var/lib/dpkg/status.d/base-files", content: dpkgParagraph({ name: "base-files", version: "12.4" }, { status: false }) },
        { path: "var/lib/dpkg/status.d/base-files.md5sums", content: "abc  etc/issue\n" },
        { path: "var/lib/dpkg/status.d/tzdata", content: dpkgParagraph({ name: "tzdata", version: "2024a" }, { status: false }) },
        { path: "usr/share/zoneinfo/UTC", content: "TZif" },
      ]),
    );
    const scan = await scanLayer(chunked(layer));
    expect(scan.findings.files.map((f) => f.file)).toEqual([
      { kind: "dpkg-status-d", entry: "base-files" },
      { kind: "dpkg-status-d", entry: "tzdata" },
    ]);
    expect(scan.findings.complete).toBe(true);
    expect(scan.bytesRead).toBe(layer.length);
  });

  it("does not stop at an empty dpkg status, nor at a database the upper layers hide, but records both", async () => {
    const layer = await tarOf([
      { path: "var/lib/dpkg/status", content: "" },
      { path: "lib/apk/db/installed", content: APK },
      { path: "etc/os-release", content: osRelease("alpine") },
    ]);
    const scan = await scanLayer(chunked(layer), { hidden: (p) => p.startsWith("lib/apk") });
    expect(scan.findings.files.map((f) => f.path)).toEqual(["var/lib/dpkg/status", "lib/apk/db/installed", "etc/os-release"]);
    expect(scan.findings.complete).toBe(true);
  });

  it("ignores symlinks and directories at database paths", async () => {
    const layer = await tarOf([
      { path: "lib/apk/db/installed", type: "symlink", linkname: "../../../usr/lib/apk/db/installed" },
      { path: "var/lib/dpkg/status", type: "directory" },
    ]);
    const scan = await scanLayer(chunked(layer));
    expect(scan.findings.files).toEqual([]);
  });

  it("keeps an RPM Berkeley DB's bytes, and stops there", async () => {
    const db = Buffer.alloc(2048, 1);
    const layer = await tarOf([
      { path: "var/lib/rpm/Packages", content: db },
      { path: "var/lib/dpkg/status", content: dpkgParagraph({ name: "x", version: "1" }) },
    ]);
    const scan = await scanLayer(chunked(layer));
    expect(scan.findings.files).toEqual([{ path: "var/lib/rpm/Packages", file: { kind: "rpm", format: "bdb" }, text: "", bytes: db }]);
    expect(scan.findings.complete).toBe(false);
  });

  it("reads on past an RPM SQLite database only within its folder, for its write-ahead log", async () => {
    const db = Buffer.alloc(2048, 1);
    const layer = await tarOf([
      { path: "var/lib/rpm/rpmdb.sqlite", content: db },
      { path: "var/lib/rpm/rpmdb.sqlite-shm", content: Buffer.alloc(64) },
      { path: "var/lib/rpm-state/x", content: "" },
      { path: "var/lib/rpm/rpmdb.sqlite-wal", content: Buffer.alloc(64) },
    ]);
    const scan = await scanLayer(chunked(layer));
    expect(scan.findings.files.map((f) => f.path)).toEqual(["var/lib/rpm/rpmdb.sqlite"]);
    expect(scan.findings.complete).toBe(false);
  });

  it("skips a database file over the size limit and says so", async () => {
    const big = apkInstalled(Array.from({ length: 200 }, (_, i) => ({ name: `p${i}`, version: "1" })));
    const layer = await tarOf([{ path: "lib/apk/db/installed", content: big }]);
    const scan = await scanLayer(chunked(layer), { maxFileBytes: 1024 });
    expect(scan.findings.files).toEqual([]);
    expect(scan.findings.oversized).toEqual(["lib/apk/db/installed"]);
  });

  for (const [label, encode] of [
    ["gzip", (b: Buffer) => gzipSync(b)],
    ["zstd", (b: Buffer) => zstd(b)],
    ["plain tar", (b: Buffer) => b],
  ] as const) {
    it(`stops pulling a ${label} layer once the database is read`, async () => {
      const layer = encode(
        await tarOf([
          { path: "lib/apk/db/installed", content: APK_WOLFI },
          { path: "usr/lib/big.bin", content: randomBytes(4 * 1024 * 1024) },
        ]),
      );
      const source = chunked(layer);
      const scan = await scanLayer(source);
      expect(scan.findings.files.map((f) => f.path)).toEqual(["lib/apk/db/installed"]);
      expect(scan.bytesRead).toBeLessThan(layer.length / 4);
      expect(source.destroyed).toBe(true);
    });
  }

  it("reads on past an apk database that names no distribution, for the os-release after it, and stops there", async () => {
    const layer = gzipSync(
      await tarOf([
        { path: "lib/apk/db/installed", content: APK },
        { path: "usr/lib/os-release", content: osRelease("wolfi") },
        { path: "usr/lib/big.bin", content: randomBytes(4 * 1024 * 1024) },
      ]),
    );
    const source = chunked(layer);
    const scan = await scanLayer(source);
    expect(scan.findings.files.map((f) => f.path)).toEqual(["lib/apk/db/installed", "usr/lib/os-release"]);
    expect(scan.findings.complete).toBe(false);
    expect(scan.bytesRead).toBeLessThan(layer.length / 4);
  });

  it("does not read on past an apk database when the upper layers gave an os-release", async () => {
    const layer = gzipSync(
      await tarOf([
        { path: "lib/apk/db/installed", content: APK },
        { path: "usr/lib/big.bin", content: randomBytes(4 * 1024 * 1024) },
      ]),
    );
    const scan = await scanLayer(chunked(layer), { osReleaseKnown: true });
    expect(scan.findings.files.map((f) => f.path)).toEqual(["lib/apk/db/installed"]);
    expect(scan.bytesRead).toBeLessThan(layer.length / 4);
  });

  it("reads a zstd layer made of several frames and skippable frames", async () => {
    const whole = await tarOf([
      { path: "etc/os-release", content: osRelease("wolfi") },
      { path: "lib/apk/db/installed", content: APK },
    ]);
    const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
    const layer = Buffer.concat([zstd(whole.subarray(0, 700)), skippable, zstd(whole.subarray(700))]);
    const scan = await scanLayer(chunked(layer, 7));
    expect(scan.findings.files.map((f) => [f.path, f.text])).toEqual([
      ["etc/os-release", osRelease("wolfi")],
      ["lib/apk/db/installed", APK],
    ]);
  });

  it("refuses a zstd frame asking for a window above the limit, before decoding it", async () => {
    // Frame header: magic, descriptor (no single segment, no checksum), window descriptor exponent 31-10 → 2 GiB.
    const hostile = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (31 - 10) << 3, 0x01, 0x00, 0x00]);
    await expect(scanLayer(chunked(hostile))).rejects.toThrow(/window, above the 128 MiB limit/);
  });

  it("rejects corrupt and truncated layers with a LayerFormatError", async () => {
    const layer = gzipSync(await tarOf([{ path: "usr/lib/x", content: randomBytes(64 * 1024) }, { path: "lib/apk/db/installed", content: APK }]));
    await expect(scanLayer(chunked(layer.subarray(0, layer.length / 2)))).rejects.toBeInstanceOf(LayerFormatError);
    const corrupt = Buffer.from(layer);
    corrupt.fill(0x55, 100, 400);
    await expect(scanLayer(chunked(corrupt))).rejects.toBeInstanceOf(LayerFormatError);
    const z = zstd(await tarOf([{ path: "usr/lib/x", content: randomBytes(64 * 1024) }, { path: "lib/apk/db/installed", content: APK }]));
    await expect(scanLayer(chunked(z.subarray(0, z.length / 2)))).rejects.toBeInstanceOf(LayerFormatError);
    await expect(scanLayer(chunked(Buffer.from("this is not a tar archive at all".repeat(40))))).rejects.toBeInstanceOf(LayerFormatError);
  });

  it("reads an empty blob as an empty layer", async () => {
    const scan = await scanLayer(chunked(Buffer.alloc(0)));
    expect(scan.findings).toEqual({ complete: true, files: [], whiteouts: [], oversized: [] });
  });
});

describe("ZstdFrameGuard", () => {
  it("follows frames byte by byte as well as in one chunk", async () => {
    const z = zstd(Buffer.from("hello ".repeat(10000)), "--check");
    const whole = new ZstdFrameGuard();
    whole.inspect(z);
    whole.end();
    const bytewise = new ZstdFrameGuard();
    for (const b of z) bytewise.inspect(Uint8Array.of(b));
    bytewise.end();
    const truncated = new ZstdFrameGuard();
    truncated.inspect(z.subarray(0, z.length - 1));
    expect(() => truncated.end()).toThrow(LayerFormatError);
  });
});
