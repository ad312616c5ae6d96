import { formatPurl } from "./parse/purl.js";
import type { AddedPackage, Package, PackageChange, PackageDiff, PackageList, PackageSource } from "./types.js";
import { apkToolsSeries } from "./versions/apk.js";
import { classifyChange, compareVersions, type VersionOrdering } from "./versions/compare.js";
import { compareStrings } from "./versions/digits.js";

const SOURCE_NAMES: Readonly<Record<PackageSource, string>> = {
  "sbom-spdx": "an SPDX SBOM",
  "sbom-cyclonedx": "a CycloneDX SBOM",
  apk: "the apk database",
  dpkg: "the dpkg database",
  rpm: "the rpm database",
};

/** The purl of a package, made up from its fields when the source gave none. */
function referenceOf(p: Package): string {
  if (p.purl) return p.purl;
  const slash = p.name.lastIndexOf("/");
  return formatPurl({
    type: p.type,
    ...(slash > 0 ? { namespace: p.name.slice(0, slash) } : {}),
    name: slash > 0 ? p.name.slice(slash + 1) : p.name,
    version: p.version,
    qualifiers: p.arch ? { arch: p.arch } : {},
  });
}

/** One package identity across versions: type + name + arch (a purl without version). */
const keyOf = (type: string, name: string, arch: string | undefined): string => `${type}\u0000${name}\u0000${arch ?? ""}`;
const nameKeyOf = (p: Package): string => `${p.type}\u0000${p.name}`;

/** Packages of one list grouped by identity, each group's versions deduplicated. */
function group(packages: readonly Package[]): Map<string, Map<string, Package>> {
  const groups = new Map<string, Map<string, Package>>();
  for (const p of packages) {
    const key = keyOf(p.type, p.name, p.arch);
    let versions = groups.get(key);
    if (!versions) groups.set(key, (versions = new Map()));
    if (!versions.has(p.version)) versions.set(p.version, p);
  }
  return groups;
}

/**
 * One side lists a package with an arch and the other without (an SBOM that leaves it out, read against a
 * package database): where a type + name stands under exactly one arch on each side, match them anyway.
 */
function reconcileArchitectures(previous: Map<string, Map<string, Package>>, current: Map<string, Map<string, Package>>): void {
  const byName = (groups: Map<string, Map<string, Package>>): Map<string, string[]> => {
    const out = new Map<string, string[]>();
    for (const [key, versions] of groups) {
      const first = versions.values().next().value as Package;
      const list = out.get(nameKeyOf(first)) ?? [];
      list.push(key);
      out.set(nameKeyOf(first), list);
    }
    return out;
  };
  const previousByName = byName(previous);
  const currentByName = byName(current);
  for (const [name, previousKeys] of previousByName) {
    const currentKeys = currentByName.get(name);
    if (previousKeys.length !== 1 || currentKeys?.length !== 1) continue;
    const [p] = previousKeys as [string];
    const [c] = currentKeys as [string];
    if (p === c) continue;
    const [pa, ca] = [p.split("\u0000")[2], c.split("\u0000")[2]];
    if (pa !== "" && ca !== "") continue; // two real architectures: a genuine change of package
    const versions = current.get(c);
    current.delete(c);
    if (versions) current.set(p, versions);
  }
}

/**
 * The order the images' own package manager uses: apk versions as the installed `apk-tools` orders them (the new
 * image's, else the old one's; apk-tools 2 when neither lists it).
 */
function orderingOf(previous: PackageList, current: PackageList): VersionOrdering {
  const apkTools = (list: PackageList): string | undefined => list.packages.find((p) => p.type === "apk" && p.name === "apk-tools")?.version;
  return { apkTools: apkToolsSeries(apkTools(current) ?? apkTools(previous)) };
}

const added = (p: Package): AddedPackage => ({
  name: p.name,
  version: p.version,
  reference: referenceOf(p),
  type: p.type,
  ...(p.arch ? { arch: p.arch } : {}),
  ...(p.origin ? { origin: p.origin } : {}),
});

/**
 * Added, removed and changed packages between two package lists, keyed by type + name + arch, each list
 * sorted by name (then type, arch, version), each change classified. When one identity has several versions
 * installed (kernels, language packages vendored twice), versions on both sides are unchanged and the others
 * are paired highest with highest; what is left over is added or removed. Deterministic.
 */
export function diffPackageLists(previous: PackageList, current: PackageList): PackageDiff {
  const before = group(previous.packages);
  const after = group(current.packages);
  reconcileArchitectures(before, after);
  const ordering = orderingOf(previous, current);
  const compare = (type: string, a: string, b: string): -1 | 0 | 1 => compareVersions(type, a, b, ordering);

  const addedOut: AddedPackage[] = [];
  const removedOut: AddedPackage[] = [];
  const changedOut: PackageChange[] = [];

  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const was = before.get(key) ?? new Map<string, Package>();
    const now = after.get(key) ?? new Map<string, Package>();
    const sample = (was.values().next().value ?? now.values().next().value) as Package;
    const type = sample.type;
    const descending = (a: Package, b: Package): number => compare(type, b.version, a.version) || compareStrings(b.version, a.version);
    const gone = [...was.values()].filter((p) => !now.has(p.version)).sort(descending);
    const come = [...now.values()].filter((p) => !was.has(p.version)).sort(descending);
    const pairs = Math.min(gone.length, come.length);
    for (let i = 0; i < pairs; i++) {
      const p = gone[i] as Package;
      const c = come[i] as Package;
      const arch = c.arch ?? p.arch;
      const origin = c.origin ?? p.origin;
      changedOut.push({
        name: c.name,
        type,
        ...(arch ? { arch } : {}),
        ...(origin ? { origin } : {}),
        previous: { version: p.version, reference: referenceOf(p) },
        current: { version: c.version, reference: referenceOf(c) },
        ...classifyChange(type, p.version, c.version, ordering),
      });
    }
    for (const p of gone.slice(pairs)) removedOut.push(added(p));
    for (const c of come.slice(pairs)) addedOut.push(added(c));
  }

  const byIdentity = (a: { name: string; type: string; arch?: string }, b: { name: string; type: string; arch?: string }): number =>
    compareStrings(a.name, b.name) || compareStrings(a.type, b.type) || compareStrings(a.arch ?? "", b.arch ?? "");
  const listOrder = (a: AddedPackage, b: AddedPackage): number =>
    byIdentity(a, b) || compare(a.type, a.version, b.version) || compareStrings(a.version, b.version);
  addedOut.sort(listOrder);
  removedOut.sort(listOrder);
  changedOut.sort(
    (a, b) =>
      byIdentity(a, b) ||
      compare(a.type, a.previous.version, b.previous.version) ||
      compareStrings(a.previous.version, b.previous.version),
  );

  const warnings: string[] = [];
  if (previous.source !== current.source) {
    warnings.push(
      `The old image's packages come from ${SOURCE_NAMES[previous.source]} and the new one's from ${SOURCE_NAMES[current.source]}; some differences may come from that.`,
    );
  }
  return { packages: { added: addedOut, removed: removedOut, changed: changedOut }, warnings };
}
