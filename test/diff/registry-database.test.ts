// The layer walk of readPackageDatabase over an in-memory Registry: which layers are opened, when downloads stop,
// how whiteouts and status.d merging work, and what the cache saves.
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { Digest, ImageName } from "../../src/reference/types.js";
import { RegistryError } from "../../src/registry/errors.js";
import { MediaType, type BlobStream, type Descriptor, type FetchedManifest, type Registry } from "../../src/registry/types.js";
import { createPackageListCache } from "../../src/diff/cache.js";
import { readPackageDatabase } from "../../src/diff/layers/package-database.js";
import { MAX_PACKAGES } from "../../src/diff/parse/fields.js";
import { file, layer, opaqueWhiteout, whiteout, type Layer } from "../support/images.js";
import { apkInstalled, dpkgParagraph, dpkgStatus, osRelease } from "../support/package-dbs.js";

const NAME: ImageName = { registry: "registry.test", repository: "team/app" };

/** Layers only: enough of a Registry for the layer walk, counting what was opened and aborted. */
class LayerStore implements Registry {
  readonly blobs = new Map<string, Uint8Array>();
  readonly opened: string[] = [];
  readonly aborted: string[] = [];
  readonly failures = new Map<string, RegistryError>();

  add(...layers: Layer[]): Descriptor[] {
    return layers.map((l) => {
      this.blobs.set(l.digest, l.bytes);
      return { mediaType: MediaType.OciLayerGzip, digest: l.digest, size: l.size };
    });
  }
  async openBlob(_name: ImageName, digest: Digest): Promise<BlobStream> {
    this.opened.push(digest);
    const failure = this.failures.get(digest);
    if (failure) throw failure;
    const bytes = this.blobs.get(digest);
    if (!bytes) throw new RegistryError("NOT_FOUND", `blob ${digest} not found`, 404);
    let at = 0;
    const stream = new Readable({
      read() {
        if (at >= bytes.length) this.push(null);
        else this.push(bytes.subarray(at, (at += 16 * 1024)));
      },
    });
    return { stream, size: bytes.length, abort: () => (this.aborted.push(digest), stream.destroy()) };
  }
  headManifest(): never {
    throw new Error("not used");
  }
  getManifest(): Promise<FetchedManifest> {
    throw new Error("not used");
  }
  getBlob(): Promise<Uint8Array> {
    throw new Error("not used");
  }
  referrers(): Promise<Descriptor[]> {
    throw new Error("not used");
  }
  tagHistory(): never {
    throw new Error("not used");
  }
}

const BUSYBOX = { name: "busybox", version: "1.36.1-r2" };
const SSL = { name: "libssl3", version: "3.1.4-r1" };
/** Alpine's own baselayout: names the distribution without an os-release. */
const BASELAYOUT = { name: "alpine-baselayout", version: "3.4.3-r1" };
const filler = (name: string) => layer([file(`usr/share/${name}/data`, `${name}\n`.repeat(1000))]);

describe("readPackageDatabase", () => {
  it("reads only the top layer when it holds the apk database, and aborts its download", async () => {
    const store = new LayerStore();
    const layers = store.add(
      await filler("base"),
      await layer([file("etc/os-release", osRelease("wolfi")), file("lib/apk/db/installed", apkInstalled([BUSYBOX, SSL]))]),
    );
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.source).toBe("apk");
    expect(result.list?.packages.map((p) => [p.name, p.version, p.purl])).toEqual([
      ["busybox", "1.36.1-r2", "pkg:apk/wolfi/busybox@1.36.1-r2?arch=x86_64"],
      ["libssl3", "3.1.4-r1", "pkg:apk/wolfi/libssl3@3.1.4-r1?arch=x86_64"],
    ]);
    expect(store.opened).toEqual([layers[1]!.digest]);
    expect(store.aborted).toEqual([layers[1]!.digest]);
    expect(result.warnings).toEqual([]);
  });

  it("goes down to the layer holding the database, newest first", async () => {
    const store = new LayerStore();
    const layers = store.add(
      await layer([file("lib/apk/db/installed", apkInstalled([BUSYBOX]))]),
      await filler("middle"),
      await filler("top"),
    );
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.list?.packages.map((p) => p.name)).toEqual(["busybox"]);
    expect(store.opened).toEqual([layers[2]!.digest, layers[1]!.digest, layers[0]!.digest]);
    expect(result.layersDownloaded).toBe(3);
  });

  it("takes the database of the highest layer that has one", async () => {
    const store = new LayerStore();
    const layers = store.add(
      await layer([file("lib/apk/db/installed", apkInstalled([{ name: "busybox", version: "1.0-r0" }, BASELAYOUT]))]),
      await layer([file("lib/apk/db/installed", apkInstalled([{ name: "busybox", version: "2.0-r0" }, BASELAYOUT]))]),
    );
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.list?.packages.map((p) => p.version)).toEqual(["2.0-r0", "3.4.3-r1"]);
    expect(result.list?.packages[0]?.purl).toBe("pkg:apk/alpine/busybox@2.0-r0?arch=x86_64");
    expect(store.opened).toHaveLength(1);
  });

  it("names a Wolfi image's packages from an os-release in a lower layer when the database names no distribution", async () => {
    const store = new LayerStore();
    const layers = store.add(
      await filler("bottom"),
      await layer([file("etc/os-release", osRelease("wolfi"))]),
      await filler("middle"),
      await layer([file("lib/apk/db/installed", apkInstalled([BUSYBOX])), file("usr/share/after", "x".repeat(100_000))]),
    );
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.list?.packages.map((p) => p.purl)).toEqual(["pkg:apk/wolfi/busybox@1.36.1-r2?arch=x86_64"]);
    // Down to the layer with the os-release, not the one below it.
    expect(store.opened).toEqual([layers[3]!.digest, layers[2]!.digest, layers[1]!.digest]);
  });

  it("names the distribution from the packages' origin when there is no os-release", async () => {
    const store = new LayerStore();
    const layers = store.add(
      await layer([file("lib/apk/db/installed", apkInstalled([BUSYBOX, { name: "wolfi-baselayout-data", version: "20230201-r15", origin: "wolfi-baselayout" }]))]),
    );
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.list?.packages[0]?.purl).toBe("pkg:apk/wolfi/busybox@1.36.1-r2?arch=x86_64");
  });

  for (const [label, hiding] of [
    ["a whiteout of the file", whiteout("lib/apk/db/installed")],
    ["a whiteout of a parent directory", whiteout("lib/apk")],
    ["an opaque marker on its directory", opaqueWhiteout("lib/apk/db")],
  ] as const) {
    it(`treats the database as gone under ${label} in an upper layer`, async () => {
      const store = new LayerStore();
      const layers = store.add(await layer([file("lib/apk/db/installed", apkInstalled([BUSYBOX]))]), await layer([hiding]));
      const result = await readPackageDatabase(store, NAME, layers);
      expect(result.source).toBe("none");
      expect(result.list).toBeUndefined();
      expect(result.warnings).toEqual(["no package database (apk, dpkg or rpm) in the image's layers"]);
    });
  }

  it("finds a database written again above the whiteout that deleted the older one", async () => {
    const store = new LayerStore();
    const layers = store.add(
      await layer([file("lib/apk/db/installed", apkInstalled([{ name: "old", version: "1-r0" }]))]),
      await layer([whiteout("lib/apk/db/installed")]),
      await layer([file("lib/apk/db/installed", apkInstalled([{ name: "new", version: "1-r0" }]))]),
    );
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.list?.packages.map((p) => p.name)).toEqual(["new"]);
  });

  it("does not honour a whiteout in the same layer as the database (it applies to lower layers only)", async () => {
    const store = new LayerStore();
    const layers = store.add(await layer([whiteout("lib/apk/db/installed"), file("lib/apk/db/installed", apkInstalled([BUSYBOX]))]));
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.list?.packages.map((p) => p.name)).toEqual(["busybox"]);
  });

  it("stops going down once every database path is hidden", async () => {
    const store = new LayerStore();
    const layers = store.add(
      await layer([file("lib/apk/db/installed", apkInstalled([BUSYBOX]))]),
      await layer([opaqueWhiteout("")].map((f) => ({ ...f, path: ".wh..wh..opq" }))),
    );
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.source).toBe("none");
    expect(store.opened).toEqual([layers[1]!.digest]);
  });

  it("warns instead of listing a dpkg database of more packages than any real image", async () => {
    const store = new LayerStore();
    const huge = "Package: p\nVersion: 1\n\n".repeat(MAX_PACKAGES);
    // Exactly the cap in status, and one more package in status.d: the merged list is over it.
    const layers = store.add(await layer([file("var/lib/dpkg/status.d/extra", "Package: q\nVersion: 1\n"), file("var/lib/dpkg/status", huge)]));
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.source).toBe("dpkg");
    expect(result.list).toBeUndefined();
    expect(result.warnings).toEqual([`the dpkg database lists more than ${MAX_PACKAGES} packages, more than any real image; its packages are not listed`]);
  });

  it("merges distroless status.d files across layers, upper layers winning, minus whited-out packages", async () => {
    const store = new LayerStore();
    const para = (name: string, version: string) => dpkgParagraph({ name, version }, { status: false });
    const layers = store.add(
      await layer([
        file("var/lib/dpkg/status.d/base-files", para("base-files", "12.4+deb12u5")),
        file("var/lib/dpkg/status.d/tzdata", para("tzdata", "2024a-0+deb12u1")),
        file("var/lib/dpkg/status.d/netbase", para("netbase", "6.4")),
      ]),
      await layer([
        file("etc/os-release", osRelease("debian")),
        file("var/lib/dpkg/status.d/libc6", para("libc6", "2.36-9+deb12u4")),
        file("var/lib/dpkg/status.d/libc6.md5sums", "0123  lib/libc.so.6\n"),
      ]),
      await layer([file("var/lib/dpkg/status.d/tzdata", para("tzdata", "2024b-0+deb12u1")), whiteout("var/lib/dpkg/status.d/netbase")]),
    );
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.source).toBe("dpkg");
    expect(result.list?.packages.map((p) => `${p.name}=${p.version}`)).toEqual(["base-files=12.4+deb12u5", "libc6=2.36-9+deb12u4", "tzdata=2024b-0+deb12u1"]);
    expect(result.list?.packages[0]?.purl).toBe("pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64");
    expect(store.opened).toHaveLength(3);
    expect(store.aborted).toHaveLength(3);
  });

  it("does not read below an opaque status.d", async () => {
    const store = new LayerStore();
    const para = (name: string) => dpkgParagraph({ name, version: "1" }, { status: false });
    const layers = store.add(
      await layer([file("var/lib/dpkg/status.d/old", para("old"))]),
      await layer([opaqueWhiteout("var/lib/dpkg/status.d"), file("var/lib/dpkg/status.d/new", para("new"))]),
    );
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.list?.packages.map((p) => p.name)).toEqual(["new"]);
  });

  it("reads a dpkg status with the distro of os-release, stopping at it", async () => {
    const store = new LayerStore();
    const layers = store.add(
      await filler("lower"),
      await layer([
        file("usr/lib/os-release", osRelease("ubuntu")),
        file("var/lib/dpkg/status", dpkgStatus([{ name: "bash", version: "5.2.21-2ubuntu4" }])),
        file("var/lib/zzz", "later"),
      ]),
    );
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.list?.packages.map((p) => p.purl)).toEqual(["pkg:deb/ubuntu/bash@5.2.21-2ubuntu4?arch=amd64"]);
    expect(store.opened).toHaveLength(1);
  });

  it("names an Ubuntu image's dpkg packages from its base-files when its os-release is in a layer never read", async () => {
    const store = new LayerStore();
    const layers = store.add(
      await layer([file("usr/lib/os-release", osRelease("ubuntu"))]),
      await layer([file("var/lib/dpkg/status", dpkgStatus([{ name: "base-files", version: "13ubuntu10.1" }, { name: "bash", version: "5.2.21-2ubuntu4" }]))]),
    );
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.list?.packages.map((p) => p.purl)).toEqual([
      "pkg:deb/ubuntu/base-files@13ubuntu10.1?arch=amd64",
      "pkg:deb/ubuntu/bash@5.2.21-2ubuntu4?arch=amd64",
    ]);
    expect(store.opened).toHaveLength(1);
  });

  it("guesses Wolfi from its baselayout package when there is no os-release", async () => {
    const store = new LayerStore();
    const layers = store.add(await layer([file("lib/apk/db/installed", apkInstalled([{ name: "wolfi-baselayout", version: "20230201-r7" }]))]));
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.list?.packages[0]?.purl).toMatch(/^pkg:apk\/wolfi\//);
  });

  it("reports an RPM database it cannot read as found, with the reason, and reads no lower layer", async () => {
    const store = new LayerStore();
    const layers = store.add(await filler("lower"), await layer([file("var/lib/rpm/rpmdb.sqlite", "SQLite format 3\0")]));
    const result = await readPackageDatabase(store, NAME, layers);
    expect(result.source).toBe("rpm");
    expect(result.list).toBeUndefined();
    expect(result.warnings).toEqual(["could not read the rpm database /var/lib/rpm/rpmdb.sqlite: the database is not an SQLite 3 file"]);
    expect(store.opened).toHaveLength(1);
  });

  it("turns a registry failure and a corrupt layer into warnings", async () => {
    const store = new LayerStore();
    const layers = store.add(await layer([file("lib/apk/db/installed", apkInstalled([BUSYBOX]))]), await filler("top"));
    store.failures.set(layers[1]!.digest, new RegistryError("UNAUTHORIZED", "registry.test/team/app: 401 unauthorized", 401));
    const denied = await readPackageDatabase(store, NAME, layers);
    expect(denied.source).toBe("none");
    expect(denied.warnings).toEqual([`could not read layer ${layers[1]!.digest.slice(0, 19)}…: registry.test/team/app: 401 unauthorized`]);

    const corrupt = new LayerStore();
    const bad: Layer = { ...(await filler("x")), bytes: Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), digest: `sha256:${"e".repeat(64)}` as Digest };
    const result = await readPackageDatabase(corrupt, NAME, corrupt.add(bad));
    expect(result.warnings[0]).toMatch(/^could not read layer sha256:eeeeeeeeeeee…: layer is not valid gzip/);
  });

  it("stops reading a layer the registry sends more bytes of than its manifest declares", async () => {
    const store = new LayerStore();
    const [declared] = store.add(await layer([file("lib/apk/db/installed", apkInstalled([BUSYBOX]))]));
    const result = await readPackageDatabase(store, NAME, [{ ...declared!, size: 16 }]);
    expect(result.source).toBe("none");
    expect(result.warnings).toEqual([`could not read layer ${declared!.digest.slice(0, 19)}…: the layer is larger than the 16 bytes its manifest declares`]);
    expect(result.bytesRead).toBe(0);
  });

  it("warns about a database over the size limit instead of holding it", async () => {
    const store = new LayerStore();
    const layers = store.add(await layer([file("lib/apk/db/installed", apkInstalled([BUSYBOX, SSL]))]));
    const result = await readPackageDatabase(store, NAME, layers, { maxFileBytes: 100 });
    expect(result.source).toBe("none");
    expect(result.warnings[0]).toBe(`/lib/apk/db/installed in layer ${layers[0]!.digest.slice(0, 19)}… is over 100 bytes; not read`);
  });

  it("refuses images with more layers than the limit, opening none", async () => {
    const store = new LayerStore();
    const layers = store.add(await filler("a"), await filler("b"), await filler("c"));
    const result = await readPackageDatabase(store, NAME, layers, { maxLayers: 2 });
    expect(result.warnings).toEqual(["the image has 3 layers, more than the 2 digesta reads; its packages are not listed"]);
    expect(store.opened).toEqual([]);
  });

  it("reads each layer once across images sharing a cache", async () => {
    const store = new LayerStore();
    const para = (name: string, version: string) => dpkgParagraph({ name, version }, { status: false });
    const [base, oldTop, newTop] = store.add(
      await layer([file("var/lib/dpkg/status.d/libc6", para("libc6", "2.36-9"))]),
      await layer([file("var/lib/dpkg/status.d/tzdata", para("tzdata", "2024a"))]),
      await layer([file("var/lib/dpkg/status.d/tzdata", para("tzdata", "2024b"))]),
    );
    const cache = createPackageListCache({ maxEntries: 10 });
    const current = await readPackageDatabase(store, NAME, [base!, newTop!], { cache });
    const previous = await readPackageDatabase(store, NAME, [base!, oldTop!], { cache });
    expect(current.list?.packages.map((p) => p.version)).toEqual(["2.36-9", "2024b"]);
    expect(previous.list?.packages.map((p) => p.version)).toEqual(["2.36-9", "2024a"]);
    expect(store.opened).toEqual([newTop!.digest, base!.digest, oldTop!.digest]);
    expect(previous.layersDownloaded).toBe(1);
    const again = await readPackageDatabase(store, NAME, [base!, newTop!], { cache });
    expect(again.layersDownloaded).toBe(0);
    expect(again.list).toEqual(current.list);
  });

  it("reads a layer again when what a stopped read cached is hidden in another image", async () => {
    const store = new LayerStore();
    const [bottom, withDb, hiding] = store.add(
      await layer([file("var/lib/dpkg/status", dpkgStatus([{ name: "bash", version: "5.2" }]))]),
      await layer([file("lib/apk/db/installed", apkInstalled([BUSYBOX, BASELAYOUT])), file("var/lib/dpkg/status", dpkgStatus([{ name: "dash", version: "0.5" }]))]),
      await layer([whiteout("lib/apk")]),
    );
    const cache = createPackageListCache();
    const first = await readPackageDatabase(store, NAME, [bottom!, withDb!], { cache });
    expect(first.source).toBe("apk");
    const second = await readPackageDatabase(store, NAME, [bottom!, withDb!, hiding!], { cache });
    expect(second.source).toBe("dpkg");
    expect(second.list?.packages.map((p) => p.name)).toEqual(["dash"]);
    expect(store.opened.filter((d) => d === withDb!.digest)).toHaveLength(2);
  });
});

describe("createPackageListCache", () => {
  const digest = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}` as Digest;
  const findings = (complete: boolean, text = "x") => ({
    complete,
    files: [{ path: "lib/apk/db/installed", file: { kind: "apk" as const }, text }],
    whiteouts: [],
    oversized: [],
  });

  it("forgets the least recently used entries beyond maxEntries", () => {
    const cache = createPackageListCache({ maxEntries: 2 });
    cache.setLayer(digest(1), findings(true));
    cache.setLayer(digest(2), findings(true));
    expect(cache.getLayer(digest(1))).toBeDefined(); // 1 is now the most recent
    cache.setLayer(digest(3), findings(true));
    expect(cache.getLayer(digest(2))).toBeUndefined();
    expect(cache.getLayer(digest(1))).toBeDefined();
    expect(cache.size).toBe(2);
  });

  it("stays under maxBytes, and keeps nothing bigger than it", () => {
    const cache = createPackageListCache({ maxBytes: 10_000 });
    cache.setLayer(digest(1), findings(true, "a".repeat(3000)));
    cache.setLayer(digest(2), findings(true, "b".repeat(3000)));
    expect(cache.getLayer(digest(1))).toBeUndefined();
    expect(cache.getLayer(digest(2))).toBeDefined();
    cache.setLayer(digest(3), findings(true, "c".repeat(20_000)));
    expect(cache.getLayer(digest(3))).toBeUndefined();
  });

  it("keeps what a whole read learnt over what a stopped read learnt", () => {
    const cache = createPackageListCache();
    cache.setLayer(digest(1), findings(true, "whole"));
    cache.setLayer(digest(1), findings(false, "partial"));
    expect(cache.getLayer(digest(1))?.files[0]?.text).toBe("whole");
  });

  it("keys SBOM results by the image they were checked against", () => {
    const cache = createPackageListCache();
    const list = { source: "sbom-spdx" as const, packages: [{ type: "apk", name: "busybox", version: "1" }] };
    cache.setSbom(digest(9), digest(1), list);
    expect(cache.getSbom(digest(9), digest(1))).toBe(list);
    expect(cache.getSbom(digest(9), digest(2))).toBeUndefined();
  });
});
