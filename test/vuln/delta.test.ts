import { describe, expect, it } from "vitest";
import type { PackageDiff } from "../../src/diff/types.js";
import { packagesToLookUp, scanDelta, vulnerabilityDelta } from "../../src/vuln/delta.js";
import { osvPackageOf } from "../../src/vuln/ecosystem.js";
import type { VulnerabilityEntry } from "../../src/vuln/types.js";

const purl = (name: string, version: string) => `pkg:apk/wolfi/${name}@${version}?arch=x86_64`;
const vuln = (id: string, name: string, version: string, severity: VulnerabilityEntry["severity"], aliases: string[] = []): VulnerabilityEntry => ({
  id,
  aliases,
  severity,
  package: { name, version, reference: purl(name, version) },
});

const DIFF: PackageDiff = {
  packages: {
    changed: [
      {
        name: "openssl",
        type: "apk",
        origin: "openssl",
        previous: { version: "3.1.4-r1", reference: purl("openssl", "3.1.4-r1") },
        current: { version: "3.2.0-r0", reference: purl("openssl", "3.2.0-r0") },
        classification: "upgrade",
        major: false,
      },
    ],
    added: [{ name: "curl", version: "8.5.0-r0", reference: purl("curl", "8.5.0-r0"), type: "apk" }],
    removed: [{ name: "zlib", version: "1.3-r0", reference: purl("zlib", "1.3-r0"), type: "apk" }],
  },
  warnings: [],
};

describe("vulnerabilityDelta", () => {
  it("asks about both sides of each change and what came and went, nothing else", () => {
    expect(packagesToLookUp(DIFF).map((p) => `${p.name}@${p.version}`)).toEqual(["openssl@3.1.4-r1", "openssl@3.2.0-r0", "curl@8.5.0-r0", "zlib@1.3-r0"]);
  });

  it("fixes what the old version had and the new has not, all of a removed package's; introduces the reverse", () => {
    const found = new Map([
      [purl("openssl", "3.1.4-r1"), [vuln("CVE-2024-0001", "openssl", "3.1.4-r1", "high"), vuln("CVE-2024-0002", "openssl", "3.1.4-r1", "low")]],
      [purl("openssl", "3.2.0-r0"), [vuln("CVE-2024-0002", "openssl", "3.2.0-r0", "low"), vuln("CVE-2024-0003", "openssl", "3.2.0-r0", "medium")]],
      [purl("zlib", "1.3-r0"), [vuln("CVE-2023-9999", "zlib", "1.3-r0", "critical")]],
      [purl("curl", "8.5.0-r0"), [vuln("CVE-2024-0004", "curl", "8.5.0-r0", "unknown")]],
    ]);
    const delta = vulnerabilityDelta(DIFF, found, { name: "osv" }, { from: "sha256:a", to: "sha256:b" });
    expect(delta.removed.map((v) => v.id)).toEqual(["CVE-2023-9999", "CVE-2024-0001"]);
    expect(delta.added.map((v) => v.id)).toEqual(["CVE-2024-0003", "CVE-2024-0004"]);
    expect(delta.counts.removed).toEqual({ critical: 1, high: 1, medium: 0, low: 0, unknown: 0 });
    expect(delta.counts.added).toEqual({ critical: 0, high: 0, medium: 1, low: 0, unknown: 1 });
    expect(delta.metadata.map((m) => m.digest)).toEqual(["sha256:a", "sha256:b"]);
  });

  it("takes an advisory and the CVE it aliases for one vulnerability", () => {
    const found = new Map([
      [purl("openssl", "3.1.4-r1"), [vuln("CVE-2024-0001", "openssl", "3.1.4-r1", "high")]],
      [purl("openssl", "3.2.0-r0"), [vuln("CGA-xxxx", "openssl", "3.2.0-r0", "high", ["CVE-2024-0001"])]],
    ]);
    const delta = vulnerabilityDelta(DIFF, found, { name: "osv" }, { from: "sha256:a", to: "sha256:b" });
    expect(delta.added).toEqual([]);
    expect(delta.removed).toEqual([]);
  });

  it("compares two whole-image scans package by package", () => {
    const delta = scanDelta(
      [vuln("CVE-1", "a", "1", "high"), vuln("CVE-2", "b", "1", "low")],
      [vuln("CVE-2", "b", "2", "low"), vuln("CVE-3", "c", "1", "critical")],
      [],
    );
    expect(delta.removed.map((v) => v.id)).toEqual(["CVE-1"]);
    expect(delta.added.map((v) => v.id)).toEqual(["CVE-3"]);
  });
});

describe("osvPackageOf", () => {
  const ask = (reference: string, origin?: string) => osvPackageOf({ type: "", name: "n", version: "1", reference, ...(origin ? { origin } : {}) });
  it("names distribution packages by ecosystem and source package", () => {
    expect(ask("pkg:apk/wolfi/libcrypto3@3.2.0-r0?arch=x86_64", "openssl")).toEqual({ ecosystem: "Wolfi", name: "openssl" });
    expect(ask("pkg:apk/chainguard/glibc@2.39-r0")).toEqual({ ecosystem: "Chainguard", name: "glibc" });
    expect(ask("pkg:apk/alpine/musl@1.2.4-r2?distro=alpine-3.19.1")).toEqual({ ecosystem: "Alpine:v3.19", name: "musl" });
    expect(ask("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12", "openssl")).toEqual({ ecosystem: "Debian:12", name: "openssl" });
    expect(ask("pkg:deb/ubuntu/libc6@2.35-0ubuntu3.6")).toEqual({ ecosystem: "Ubuntu", name: "libc6" });
    expect(ask("pkg:rpm/redhat/openssl-libs@3.0.7-25.el9")).toEqual({ ecosystem: "Red Hat", name: "openssl-libs" });
  });
  it("names language packages as their registries do, and skips what OSV has no ecosystem for", () => {
    expect(ask("pkg:npm/%40babel/core@7.0.0")).toEqual({ ecosystem: "npm", name: "@babel/core" });
    expect(ask("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")).toEqual({ ecosystem: "Maven", name: "org.apache.logging.log4j:log4j-core" });
    expect(ask("pkg:golang/golang.org/x/net@0.17.0")).toEqual({ ecosystem: "Go", name: "golang.org/x/net" });
    expect(ask("pkg:generic/thing@1")).toBeUndefined();
    expect(ask("pkg:apk/someos/thing@1")).toBeUndefined();
  });
});
