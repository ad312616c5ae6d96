import type { Package, PackageSource } from "../types.js";

/** The PackageSource an in-toto predicate type stands for, or undefined when it is not an SBOM digesta reads. */
export function sbomSourceOf(predicateType: string): Extract<PackageSource, "sbom-spdx" | "sbom-cyclonedx"> | undefined {
  if (predicateType.startsWith("https://spdx.dev/Document")) return "sbom-spdx";
  if (predicateType.startsWith("https://cyclonedx.org/bom")) return "sbom-cyclonedx";
  return undefined;
}

/**
 * The packages an SBOM predicate lists (SPDX 2.x JSON or CycloneDX JSON), identified by purl.
 * Returns undefined when `predicateType` is not an SBOM type; throws AttestationError when it claims to be one
 * but the predicate is not a readable document.
 */
export function packagesFromSbom(predicateType: string, predicate: unknown): Package[] | undefined {
  void predicateType;
  void predicate;
  throw new Error("packagesFromSbom: not implemented yet");
}
