import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseApkInstalled } from "../../src/diff/parse/apk-installed.js";
import { parseDpkgStatus } from "../../src/diff/parse/dpkg-status.js";
import { MAX_PACKAGES } from "../../src/diff/parse/fields.js";
import { formatPurl, parsePurl } from "../../src/diff/parse/purl.js";

describe("parseApkInstalled", () => {
  const db = [
    "C:Q1abc=",
    "P:musl",
    "V:1.2.4-r2",
    "A:x86_64",
    "S:383152",
    "T:the musl c library",
    "o:musl",
    "m:Someone <a@b>",
    "R:lib/ld-musl-x86_64.so.1",
    "a:0:0:755",
    "",
    "P:libstdc++",
    "V:13.2.0-r3",
    "A:aarch64",
    "o:gcc",
    "",
    "",
  ].join("\n");

  it("reads name, version, arch and origin, with a purl per package", () => {
    expect(parseApkInstalled(db, { distro: "wolfi" })).toEqual([
      { type: "apk", name: "musl", version: "1.2.4-r2", arch: "x86_64", origin: "musl", purl: "pkg:apk/wolfi/musl@1.2.4-r2?arch=x86_64" },
      {
        type: "apk",
        name: "libstdc++",
        version: "13.2.0-r3",
        arch: "aarch64",
        origin: "gcc",
        purl: "pkg:apk/wolfi/libstdc%2B%2B@13.2.0-r3?arch=aarch64",
      },
    ]);
  });

  it("defaults the purl namespace to alpine and copes with CRLF and no trailing blank line", () => {
    const [pkg] = parseApkInstalled("P:busybox\r\nV:1.36.1-r5\r\n");
    expect(pkg).toEqual({ type: "apk", name: "busybox", version: "1.36.1-r5", purl: "pkg:apk/alpine/busybox@1.36.1-r5" });
  });

  it("skips junk and incomplete records, and splits records that lack a blank line", () => {
    const text = ["garbage", "P:no-version", "", "V:1.0", "", "Pzzz", "P:a", "V:1", "P:b", "V:2", "\u0000\u0001", "P:bad name", "V:1"].join("\n");
    expect(parseApkInstalled(text).map((p) => `${p.name}@${p.version}`)).toEqual(["a@1", "b@2"]);
  });

  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        for (const p of parseApkInstalled(s)) expect(p.name.length).toBeGreaterThan(0);
      }),
    );
  });

  it("stops one package past MAX_PACKAGES, so a hostile database cannot fill memory", () => {
    const text = "P:a\nV:1\n\n".repeat(MAX_PACKAGES + 50);
    expect(parseApkInstalled(text)).toHaveLength(MAX_PACKAGES + 1);
    expect(parseDpkgStatus("Package: a\nVersion: 1\n\n".repeat(MAX_PACKAGES + 50))).toHaveLength(MAX_PACKAGES + 1);
  });
});

describe("parseDpkgStatus", () => {
  const status = [
    "Package: libc6",
    "Status: install ok installed",
    "Priority: optional",
    "Architecture: amd64",
    "Multi-Arch: same",
    "Source: glibc",
    "Version: 2.36-9+deb12u4",
    "Description: GNU C Library: Shared libraries",
    " Contains the standard libraries.",
    " .",
    " Version: 9.9 (a continuation line, not a field)",
    "",
    "Package: old-removed",
    "Status: deinstall ok config-files",
    "Architecture: amd64",
    "Version: 1.0-1",
    "",
    "Package: held",
    "Status: hold ok installed",
    "Architecture: all",
    "Source: held-src (0.9-1)",
    "Version: 1:1.0-1",
    "",
    "Package: half",
    "Status: install ok half-configured",
    "Version: 1.0",
    "",
    "Package: libc-bin",
    "Status: install ok triggers-pending",
    "Architecture: amd64",
    "Version: 2.36-9+deb12u10",
    "",
    "Package: gone",
    "Status: purge ok not-installed",
    "Version: 1.0",
    "",
    "Package: junk-state",
    "Status: install ok",
    "Version: 1.0",
    "",
  ].join("\n");

  it("keeps the packages whose files are on disk (as dpkg-query -W lists them), with source package as origin", () => {
    expect(parseDpkgStatus(status)).toEqual([
      {
        type: "deb",
        name: "libc6",
        version: "2.36-9+deb12u4",
        arch: "amd64",
        origin: "glibc",
        purl: "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64",
      },
      { type: "deb", name: "held", version: "1:1.0-1", arch: "all", origin: "held-src", purl: "pkg:deb/debian/held@1:1.0-1?arch=all" },
      { type: "deb", name: "half", version: "1.0", purl: "pkg:deb/debian/half@1.0" },
      { type: "deb", name: "libc-bin", version: "2.36-9+deb12u10", arch: "amd64", purl: "pkg:deb/debian/libc-bin@2.36-9%2Bdeb12u10?arch=amd64" },
    ]);
  });

  it.each(["installed", "triggers-pending", "triggers-awaited", "half-configured", "unpacked", "half-installed"])(
    "keeps a package in state %s",
    (state) => {
      expect(parseDpkgStatus(`Package: p\nStatus: install ok ${state}\nVersion: 1\n`)).toHaveLength(1);
    },
  );

  it.each(["not-installed", "config-files"])("leaves out a package in state %s", (state) => {
    expect(parseDpkgStatus(`Package: p\nStatus: deinstall ok ${state}\nVersion: 1\n`)).toHaveLength(0);
  });

  it("keeps distroless status.d paragraphs, which have no Status", () => {
    const file = "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\nMaintainer: x\n";
    expect(parseDpkgStatus(file, { distro: "ubuntu" })).toEqual([
      { type: "deb", name: "tzdata", version: "2024a-0+deb12u1", arch: "all", purl: "pkg:deb/ubuntu/tzdata@2024a-0%2Bdeb12u1?arch=all" },
    ]);
  });

  it("reads field names case-insensitively and ignores junk", () => {
    const text = "junk line\npackage: zlib1g\nVERSION: 1:1.2.13.dfsg-1\n\nPackage: no-version\n\nd41d8cd98f00b204e9800998ecf8427e  /usr/bin/x\n";
    expect(parseDpkgStatus(text).map((p) => `${p.name}@${p.version}`)).toEqual(["zlib1g@1:1.2.13.dfsg-1"]);
  });

  it("never throws on arbitrary input", () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (s) => void parseDpkgStatus(s)));
  });
});

describe("purl", () => {
  it("parses the components of a purl, percent-decoded", () => {
    expect(parsePurl("pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie")).toEqual({
      type: "deb",
      namespace: "debian",
      name: "curl",
      version: "7.50.3-1",
      qualifiers: { arch: "i386", distro: "jessie" },
    });
    expect(parsePurl("pkg:npm/%40babel/core@7.24.0")).toMatchObject({ type: "npm", namespace: "@babel", name: "core", version: "7.24.0" });
    expect(parsePurl("pkg:golang/github.com/gorilla/context@234fd47e07d1004f0aed9c#api/v1")).toEqual({
      type: "golang",
      namespace: "github.com/gorilla",
      name: "context",
      version: "234fd47e07d1004f0aed9c",
      qualifiers: {},
      subpath: "api/v1",
    });
    expect(parsePurl("PKG:APK/wolfi/libstdc%2B%2B@13.2.0-r3?ARCH=x86_64")).toMatchObject({
      type: "apk",
      name: "libstdc++",
      qualifiers: { arch: "x86_64" },
    });
    expect(parsePurl("pkg:generic/openssl")).toEqual({ type: "generic", name: "openssl", qualifiers: {} });
  });

  it("refuses what is not a purl", () => {
    for (const s of ["", "npm/foo@1", "pkg:", "pkg:npm", "pkg:npm/", "pkg:1npm/foo", "pkg:npm/%E0%A4%A@1", "pkg:npm/foo@", "pkg:" + "a/".repeat(3000)]) {
      expect(parsePurl(s), s).toBeUndefined();
    }
  });

  it("formats a purl that parses back to the same components", () => {
    const parts = { type: "deb", namespace: "debian", name: "libc6", version: "1:2.36-9+deb12u4", qualifiers: { arch: "amd64", a: "b c" } };
    const s = formatPurl(parts);
    expect(s).toBe("pkg:deb/debian/libc6@1:2.36-9%2Bdeb12u4?a=b%20c&arch=amd64");
    expect(parsePurl(s)).toEqual(parts);
  });

  it("round-trips arbitrary names and versions", () => {
    const text = fc.string({ minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(text, text, (name, version) => {
        const p = parsePurl(formatPurl({ type: "generic", name, version }));
        expect(p).toMatchObject({ name, version });
      }),
    );
  });
});
