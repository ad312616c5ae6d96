import type { Descriptor } from "../../registry/types.js";
import type { SbomSource } from "../parse/sbom.js";

/** Where an SBOM attestation was found, in the order digesta looks. */
export type SbomOrigin = "buildkit" | "referrers" | "cosign";
export const SBOM_ORIGINS: readonly SbomOrigin[] = ["buildkit", "referrers", "cosign"];

/** How the SBOM sits in its blob. */
export type SbomWrapping =
  /** A bare in-toto statement (BuildKit). */
  | "in-toto"
  /** An in-toto statement in a DSSE envelope (cosign). */
  | "dsse"
  /** A DSSE envelope in a Sigstore bundle (cosign v3, OCI 1.1 referrers). */
  | "sigstore-bundle"
  /** The SBOM document itself, attached as an OCI artifact (`oras attach --artifact-type application/spdx+json`). */
  | "document";

/** An attestation found for an image, not yet downloaded; `source` says what it holds. */
export interface AttestationCandidate<S extends string> {
  readonly origin: SbomOrigin;
  readonly source: S;
  readonly predicateType: string;
  /** The blob to download. */
  readonly blob: Descriptor;
  readonly wrapping: SbomWrapping;
}

/** An SBOM found for an image, not yet downloaded. */
export type SbomCandidate = AttestationCandidate<SbomSource>;

/** What an attestation of this predicate type is to the caller (an SBOM format, a vulnerability scan), or undefined to skip it. */
export type PredicateKind<S extends string> = (predicateType: string) => S | undefined;

/** Annotations naming an attestation's predicate type. */
export const Annotation = {
  /** On BuildKit attestation layers. */
  InTotoPredicateType: "in-toto.io/predicate-type",
  /** On cosign `.att` layers. */
  CosignPredicateType: "predicateType",
  /** On Sigstore bundle manifests (and so on their referrer descriptors). */
  BundlePredicateType: "dev.sigstore.bundle.predicateType",
  ReferenceType: "vnd.docker.reference.type",
  ReferenceDigest: "vnd.docker.reference.digest",
} as const;

/** Media types of SBOM documents attached without a statement around them, and what they are. */
export const DOCUMENT_ARTIFACT_TYPES: Readonly<Record<string, { source: SbomSource; predicateType: string }>> = {
  "application/spdx+json": { source: "sbom-spdx", predicateType: "https://spdx.dev/Document" },
  "text/spdx+json": { source: "sbom-spdx", predicateType: "https://spdx.dev/Document" },
  "application/vnd.cyclonedx+json": { source: "sbom-cyclonedx", predicateType: "https://cyclonedx.org/bom" },
};
