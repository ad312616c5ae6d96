/** How bad a vulnerability is, in the five words Chainguard's image diff API and most scanners use. */
export type Severity = "critical" | "high" | "medium" | "low" | "unknown";

export const SEVERITIES: readonly Severity[] = ["critical", "high", "medium", "low", "unknown"];

/** The package a vulnerability was found in, as the diff API names it. */
export interface AffectedPackage {
  readonly name: string;
  readonly version: string;
  /** Package URL of that version. */
  readonly reference: string;
}

/** One vulnerability of one package version: an entry of `vulnerabilities.added` or `.removed`. */
export interface VulnerabilityEntry {
  /** The source's id: `CVE-2024-1234`, `GHSA-…`, `DSA-…`, `CGA-…`. */
  readonly id: string;
  /** Other ids of the same vulnerability, CVE ids first. */
  readonly aliases: readonly string[];
  readonly severity: Severity;
  readonly package: AffectedPackage;
  /** The first version that fixes it, where the source says. */
  readonly fixed?: string;
  readonly summary?: string;
}

export type SeverityCounts = Readonly<Record<Severity, number>>;

/** Where one side's vulnerabilities came from: a scan attached to the image, or a lookup of its packages. */
export interface VulnerabilityScanner {
  readonly name: string;
  readonly version?: string;
}

/**
 * What an update does to the image's known vulnerabilities, in the shape of Chainguard's image diff API:
 * `added` were brought in by the new build, `removed` are fixed by it (also those of a package it removed).
 */
export interface VulnerabilityDelta {
  readonly added: readonly VulnerabilityEntry[];
  readonly removed: readonly VulnerabilityEntry[];
  readonly counts: { readonly added: SeverityCounts; readonly removed: SeverityCounts };
  readonly metadata: readonly { readonly digest: string; readonly scanner: VulnerabilityScanner }[];
}
