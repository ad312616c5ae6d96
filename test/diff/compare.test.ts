import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { diffPackageLists } from "../../src/diff/compare.js";
import type { ChangeClassification, Package, PackageList } from "../../src/diff/types.js";

const apkPurl = (name: string, version: string, arch = "x86_64"): string => `pkg:apk/wolfi/${name}@${version}?arch=${arch}`;
const apk = (name: string, version: string, arch = "x86_64"): Package => ({ type: "apk", name, version, arch, purl: apkPurl(name, version, arch) });
/** What the diff says of an x86_64 apk package added or removed, and of one that changed. */
const apkEntry = (name: string, version: string) => ({ name, version, reference: apkPurl(name, version), type: "apk", arch: "x86_64" });
const apkChange = (name: string, previous: string, current: string, classification: ChangeClassification, major: boolean) => ({
  name,
  type: "apk",
  arch: "x86_64",
  previous: { version: previous, reference: apkPurl(name, previous) },
  current: { version: current, reference: apkPurl(name, current) },
  classification,
  major,
});
const list = (packages: Package[], source: PackageList["source"] = "apk"): PackageList => ({ source, packages });

describe("diffPackageLists", () => {
  it("produces Chainguard's added/removed/changed shape, sorted, each change classified", () => {
    const previous = list([apk("openssl", "1.1.1w-r0"), apk("busybox", "1.36.1-r2"), apk("zlib", "1.3-r0"), apk("gone", "1.0-r0"), apk("musl", "1.2.4-r3")]);
    const current = list([apk("zlib", "1.3-r0"), apk("musl", "1.2.4-r2"), apk("busybox", "1.36.1-r3"), apk("openssl", "3.0.0-r0"), apk("new", "2.0-r0")]);
    expect(diffPackageLists(previous, current)).toEqual({
      packages: {
        added: [apkEntry("new", "2.0-r0")],
        removed: [apkEntry("gone", "1.0-r0")],
        changed: [
          apkChange("busybox", "1.36.1-r2", "1.36.1-r3", "rebuild", false),
          apkChange("musl", "1.2.4-r3", "1.2.4-r2", "downgrade", false),
          apkChange("openssl", "1.1.1w-r0", "3.0.0-r0", "upgrade", true),
        ],
      },
      warnings: [],
    });
  });

  it("orders apk versions as the image's own apk-tools does: 2.x unless it lists apk-tools 3", () => {
    const classification = (tools: string | undefined, from: string, to: string) => {
      const extra = tools ? [apk("apk-tools", tools)] : [];
      const d = diffPackageLists(list([...extra, apk("perl-x", from)]), list([...extra, apk("perl-x", to)]));
      return d.packages.changed.map((c) => c.classification);
    };
    // Leading zeros: numbers to apk-tools 2.x (36 > 4), text to 3.x ("03" < "04").
    expect(classification(undefined, "2.036-r0", "2.04-r0")).toEqual(["downgrade"]);
    expect(classification("2.14.4-r1", "2.036-r0", "2.04-r0")).toEqual(["downgrade"]);
    expect(classification("3.0.6-r0", "2.036-r0", "2.04-r0")).toEqual(["upgrade"]);
    // A digit after a letter: 2.x sees the upgrade that 3.x calls equal.
    expect(classification(undefined, "0.99f7-r0", "0.99f8-r0")).toEqual(["upgrade"]);
    expect(classification("3.0.6-r0", "0.99f7-r0", "0.99f8-r0")).toEqual(["rebuild"]);
  });

  it("keys by type, name and arch: another arch or type is another package", () => {
    const d = diffPackageLists(
      list([apk("libc", "1-r0", "x86_64"), { type: "npm", name: "libc", version: "1.0.0" }]),
      list([apk("libc", "1-r0", "aarch64"), { type: "npm", name: "libc", version: "1.0.1" }]),
    );
    expect(d.packages.added.map((p) => `${p.type}/${p.name}/${p.arch}`)).toEqual(["apk/libc/aarch64"]);
    expect(d.packages.removed.map((p) => `${p.type}/${p.name}/${p.arch}`)).toEqual(["apk/libc/x86_64"]);
    expect(d.packages.changed).toHaveLength(1);
    expect(d.packages.changed[0]).toMatchObject({ type: "npm", classification: "upgrade" });
    expect(d.packages.changed[0]?.previous.reference).toBe("pkg:npm/libc@1.0.0");
  });

  it("matches a package listed without arch on one side against the same name with arch on the other, and warns of mixed sources", () => {
    const d = diffPackageLists(
      list([apk("curl", "8.5.0-r0")], "apk"),
      list([{ type: "apk", name: "curl", version: "8.6.0-r0", purl: "pkg:apk/wolfi/curl@8.6.0-r0" }], "sbom-spdx"),
    );
    expect(d.packages.added).toEqual([]);
    expect(d.packages.removed).toEqual([]);
    expect(d.packages.changed).toMatchObject([{ name: "curl", arch: "x86_64", classification: "upgrade" }]);
    expect(d.warnings).toEqual([
      "The old image's packages come from the apk database and the new one's from an SPDX SBOM; some differences may come from that.",
    ]);
  });

  it("pairs several installed versions of one package highest with highest", () => {
    const npm = (v: string): Package => ({ type: "npm", name: "debug", version: v });
    const d = diffPackageLists(list([npm("2.6.9"), npm("4.3.4"), npm("3.2.7")], "sbom-spdx"), list([npm("4.3.5"), npm("2.6.9")], "sbom-spdx"));
    expect(d.packages.changed.map((c) => `${c.previous.version}→${c.current.version}`)).toEqual(["4.3.4→4.3.5"]);
    expect(d.packages.removed.map((p) => p.version)).toEqual(["3.2.7"]);
    expect(d.packages.added).toEqual([]);
  });

  it("counts duplicate entries once and reports nothing for identical lists", () => {
    const packages = [apk("a", "1-r0"), apk("a", "1-r0"), apk("b", "2-r0")];
    expect(diffPackageLists(list(packages), list([...packages].reverse()))).toEqual({
      packages: { added: [], removed: [], changed: [] },
      warnings: [],
    });
  });

  it("is deterministic whatever the input order, and accounts for every package", () => {
    const pkg = fc.record({
      type: fc.constantFrom("apk", "deb", "npm"),
      name: fc.constantFrom("a", "b", "c", "d"),
      version: fc.constantFrom("1.0", "1.1", "2.0", "1.0-r1", "1.0~rc1"),
      arch: fc.constantFrom("x86_64", "aarch64"),
    });
    fc.assert(
      fc.property(fc.array(pkg, { maxLength: 12 }), fc.array(pkg, { maxLength: 12 }), (a, b) => {
        const d = diffPackageLists(list(a), list(b));
        expect(diffPackageLists(list([...a].reverse()), list([...b].reverse()))).toEqual(d);
        const distinct = (ps: Package[]) => new Set(ps.map((p) => `${p.type}/${p.name}/${p.arch}@${p.version}`));
        const before = distinct(a);
        const after = distinct(b);
        const common = [...before].filter((k) => after.has(k)).length;
        expect(d.packages.removed.length + d.packages.changed.length).toBe(before.size - common);
        expect(d.packages.added.length + d.packages.changed.length).toBe(after.size - common);
      }),
    );
  });
});
