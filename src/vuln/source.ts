import type { VulnerabilityEntry, VulnerabilityScanner } from "./types.js";

/** One package version whose vulnerabilities are asked for: a side of a changed, added or removed package. */
export interface PackageVersion {
  readonly type: string;
  readonly name: string;
  readonly version: string;
  /** Package URL of that version: the key of the answer. */
  readonly reference: string;
  /** Source package, which distribution advisories are filed under (Debian, Alpine, Wolfi). */
  readonly origin?: string;
}

/** The known vulnerabilities of each package version asked for, by `reference`; versions with none may be absent. */
export type VulnerabilitiesByPackage = ReadonlyMap<string, readonly VulnerabilityEntry[]>;

/**
 * Where the vulnerabilities of package versions are looked up (OSV, or a compatible mirror). An adapter: the core
 * only ever sees its answers.
 */
export interface PackageVulnerabilitySource {
  readonly scanner: VulnerabilityScanner;
  /** Throws VulnerabilitySourceError when the source cannot answer; the caller turns that into a warning. */
  lookup(packages: readonly PackageVersion[], signal?: AbortSignal): Promise<VulnerabilitiesByPackage>;
}

/** The vulnerability source could not answer; the message says why, in one line. */
export class VulnerabilitySourceError extends Error {
  override readonly name = "VulnerabilitySourceError";
}
