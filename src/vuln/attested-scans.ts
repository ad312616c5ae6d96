import { discoverAttestations } from "../diff/attestations/discover.js";
import { attestedStatement } from "../diff/attestations/read-sbom.js";
import type { SbomOrigin } from "../diff/attestations/candidates.js";
import type { Digest, ImageName } from "../reference/types.js";
import type { Registry } from "../registry/types.js";
import { parseVulnerabilityPredicate, VULN_PREDICATE_TYPE, type ScanReport } from "./scan-report.js";

/** Where an image's own vulnerability scan is looked for: OCI referrers, then cosign's `.att` tag. */
const ORIGINS: readonly SbomOrigin[] = ["referrers", "cosign"];
const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;

/** The vulnerability scan attached to an image, if it has one. */
export interface ImageScanSource {
  /** The newest scan attested for `digest` (cosign appends: the last layer), or undefined when it has none. Throws for registry or format problems. */
  scanOf(image: ImageName, digest: Digest, signal?: AbortSignal): Promise<ScanReport | undefined>;
}

const isVulnPredicate = (predicateType: string): "vuln" | undefined => (predicateType === VULN_PREDICATE_TYPE ? "vuln" : undefined);

/**
 * Vulnerability scans attested beside the image (`cosign attest --type vuln`), found the ways SBOMs are found and
 * held to the same rules: size-capped, and about this very digest.
 */
export function createAttestedScanSource(registry: Registry, options: { maxBytes?: number } = {}): ImageScanSource {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return {
    async scanOf(image, digest, signal) {
      for (const origin of ORIGINS) {
        signal?.throwIfAborted();
        const candidates = await discoverAttestations(registry, image, { digest }, origin, isVulnPredicate);
        for (const candidate of [...candidates].reverse()) {
          if (candidate.blob.size > maxBytes) continue;
          const bytes = await registry.getBlob(image, candidate.blob.digest, maxBytes);
          const statement = attestedStatement(candidate, bytes, digest, "vulnerability attestation");
          const report = parseVulnerabilityPredicate(statement.predicate);
          if (report) return report;
        }
      }
      return undefined;
    },
  };
}
