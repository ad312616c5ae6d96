import type { PackageDiff } from "../diff/types.js";
import { bySeverity, countBySeverity } from "./severity.js";
import type { PackageVersion, VulnerabilitiesByPackage } from "./source.js";
import type { VulnerabilityDelta, VulnerabilityEntry, VulnerabilityScanner } from "./types.js";

/** The package versions whose vulnerabilities decide the delta: both sides of each change, and what came and went. */
export function packagesToLookUp(diff: PackageDiff): PackageVersion[] {
  const out: PackageVersion[] = [];
  const origin = (o: string | undefined) => (o ? { origin: o } : {});
  for (const c of diff.packages.changed) {
    out.push({ type: c.type, name: c.name, version: c.previous.version, reference: c.previous.reference, ...origin(c.origin) });
    out.push({ type: c.type, name: c.name, version: c.current.version, reference: c.current.reference, ...origin(c.origin) });
  }
  for (const p of [...diff.packages.added, ...diff.packages.removed]) {
    out.push({ type: p.type, name: p.name, version: p.version, reference: p.reference, ...origin(p.origin) });
  }
  return out;
}

/** Ids a vulnerability goes by: its own and its aliases, so a DSA and its CVE are one vulnerability. */
const namesOf = (v: VulnerabilityEntry): string[] => [v.id, ...v.aliases];

/** `after` less what `before` also has, by package and by any id the two share. */
function without(after: readonly VulnerabilityEntry[], before: readonly VulnerabilityEntry[]): VulnerabilityEntry[] {
  const known = new Set(before.flatMap(namesOf));
  return after.filter((v) => !namesOf(v).some((n) => known.has(n)));
}

/**
 * Which vulnerabilities an update brings and which it fixes, from the vulnerabilities of the package versions that
 * changed: a changed package's old findings missing from its new version are fixed, new ones are introduced; all of
 * a removed package's are fixed, all of an added package's introduced. Pure.
 */
export function vulnerabilityDelta(
  diff: PackageDiff,
  found: VulnerabilitiesByPackage,
  scanner: VulnerabilityScanner,
  digests: { readonly from: string; readonly to: string },
): VulnerabilityDelta {
  const added: VulnerabilityEntry[] = [];
  const removed: VulnerabilityEntry[] = [];
  const of = (reference: string) => found.get(reference) ?? [];
  for (const c of diff.packages.changed) {
    const before = of(c.previous.reference);
    const after = of(c.current.reference);
    removed.push(...without(before, after));
    added.push(...without(after, before));
  }
  for (const p of diff.packages.removed) removed.push(...of(p.reference));
  for (const p of diff.packages.added) added.push(...of(p.reference));
  return deltaOf(added, removed, [
    { digest: digests.from, scanner },
    { digest: digests.to, scanner },
  ]);
}

/**
 * The delta between two whole-image scans (vulnerability attestations): what the new scan finds that the old did
 * not, and the reverse, matched by package name and any shared id.
 */
export function scanDelta(
  previous: readonly VulnerabilityEntry[],
  current: readonly VulnerabilityEntry[],
  metadata: VulnerabilityDelta["metadata"],
): VulnerabilityDelta {
  const byPackage = (list: readonly VulnerabilityEntry[]) => {
    const map = new Map<string, VulnerabilityEntry[]>();
    for (const v of list) map.set(v.package.name, [...(map.get(v.package.name) ?? []), v]);
    return map;
  };
  const before = byPackage(previous);
  const after = byPackage(current);
  const added: VulnerabilityEntry[] = [];
  const removed: VulnerabilityEntry[] = [];
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    added.push(...without(after.get(name) ?? [], before.get(name) ?? []));
    removed.push(...without(before.get(name) ?? [], after.get(name) ?? []));
  }
  return deltaOf(added, removed, metadata);
}

function deltaOf(added: VulnerabilityEntry[], removed: VulnerabilityEntry[], metadata: VulnerabilityDelta["metadata"]): VulnerabilityDelta {
  const unique = (list: VulnerabilityEntry[]) => {
    const seen = new Set<string>();
    return list.filter((v) => {
      const key = `${v.id}\u0000${v.package.name}\u0000${v.package.version}`;
      return seen.has(key) ? false : (seen.add(key), true);
    });
  };
  const a = unique(added).sort(bySeverity);
  const r = unique(removed).sort(bySeverity);
  return { added: a, removed: r, counts: { added: countBySeverity(a), removed: countBySeverity(r) }, metadata };
}
