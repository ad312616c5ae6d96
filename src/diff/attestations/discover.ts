import type { Digest, ImageName } from "../../reference/types.js";
import { RegistryError } from "../../registry/errors.js";
import { MediaType, type Descriptor, type Registry } from "../../registry/types.js";
import { sbomSourceOf } from "../parse/sbom.js";
import { parseImageManifest } from "../../registry/manifest.js";
import { isIndex, type ImageIndex } from "../platform.js";
import { Annotation, DOCUMENT_ARTIFACT_TYPES, type AttestationCandidate, type PredicateKind, type SbomCandidate, type SbomOrigin } from "./candidates.js";
import { digestTag } from "../../reference/format.js";

/** Most referrer manifests fetched per image; an image with more is not one we need to read them all of. */
const MAX_REFERRER_MANIFESTS = 16;

/** The image whose SBOMs are looked for. */
export interface SbomSubject {
  /** The platform image's manifest digest: what the statements must name as subject. */
  readonly digest: Digest;
  /** The index the pin points to, where BuildKit keeps attestation manifests. */
  readonly index?: ImageIndex;
}

/** SBOM candidates of one origin for `subject`; an empty list when there are none. Throws RegistryError for other failures. */
export function discoverSboms(registry: Registry, name: ImageName, subject: SbomSubject, origin: SbomOrigin): Promise<SbomCandidate[]> {
  return discoverAttestations(registry, name, subject, origin, sbomSourceOf);
}

/**
 * Attestations of one origin for `subject` whose predicate type `kindOf` knows; an empty list when there are none.
 * Throws RegistryError for other failures.
 */
export async function discoverAttestations<S extends string>(
  registry: Registry,
  name: ImageName,
  subject: SbomSubject,
  origin: SbomOrigin,
  kindOf: PredicateKind<S>,
): Promise<AttestationCandidate<S>[]> {
  switch (origin) {
    case "buildkit":
      return buildkitSboms(registry, name, subject, kindOf);
    case "referrers":
      return referrerSboms(registry, name, subject.digest, kindOf);
    case "cosign":
      return cosignSboms(registry, name, subject.digest, kindOf);
  }
}

/** BuildKit: an `unknown/unknown` manifest in the index, annotated as the attestation manifest of the platform image. */
export async function buildkitSboms<S extends string>(
  registry: Registry,
  name: ImageName,
  subject: SbomSubject,
  kindOf: PredicateKind<S>,
): Promise<AttestationCandidate<S>[]> {
  const entry = subject.index?.manifests.find(
    (d) => d.annotations?.[Annotation.ReferenceType] === "attestation-manifest" && d.annotations[Annotation.ReferenceDigest] === subject.digest,
  );
  if (!entry) return [];
  const fetched = await registry.getManifest(name, entry.digest);
  if (isIndex(fetched)) return [];
  return parseImageManifest(fetched.json, `attestation manifest ${entry.digest}`).layers.flatMap((layer) => {
    const predicateType = layer.annotations?.[Annotation.InTotoPredicateType];
    const source = predicateType && kindOf(predicateType);
    return source && layer.mediaType === MediaType.InToto ? [{ origin: "buildkit", source, predicateType, blob: layer, wrapping: "in-toto" } as const] : [];
  });
}

/** cosign: the `sha256-<hex>.att` tag, one DSSE envelope layer per attestation, annotated with its predicate type. */
export async function cosignSboms<S extends string>(
  registry: Registry,
  name: ImageName,
  digest: Digest,
  kindOf: PredicateKind<S>,
): Promise<AttestationCandidate<S>[]> {
  const tag = digestTag(digest, ".att");
  let fetched;
  try {
    fetched = await registry.getManifest(name, tag);
  } catch (error) {
    if (error instanceof RegistryError && error.code === "NOT_FOUND") return [];
    throw error;
  }
  if (isIndex(fetched)) return [];
  return parseImageManifest(fetched.json, `attestation manifest ${tag}`).layers.flatMap((layer) => {
    const predicateType = layer.annotations?.[Annotation.CosignPredicateType];
    const source = predicateType && kindOf(predicateType);
    return source ? [{ origin: "cosign", source, predicateType, blob: layer, wrapping: "dsse" } as const] : [];
  });
}

/**
 * OCI 1.1 referrers: Sigstore bundles (predicate type in the manifest's annotation, copied onto the referrer
 * descriptor), in-toto or DSSE layers annotated with their predicate type, and bare SPDX/CycloneDX documents.
 * Signatures and other artifacts are skipped without being fetched.
 */
export async function referrerSboms<S extends string>(
  registry: Registry,
  name: ImageName,
  digest: Digest,
  kindOf: PredicateKind<S>,
): Promise<AttestationCandidate<S>[]> {
  let referrers: Descriptor[];
  try {
    referrers = await registry.referrers(name, digest);
  } catch (error) {
    if (error instanceof RegistryError && error.code === "NOT_FOUND") return [];
    throw error;
  }
  const worth = referrers.filter((r) => mayHold(r, kindOf)).slice(0, MAX_REFERRER_MANIFESTS);
  const candidates: AttestationCandidate<S>[] = [];
  for (const referrer of worth) {
    const fetched = await registry.getManifest(name, referrer.digest);
    if (isIndex(fetched)) continue;
    const manifest = parseImageManifest(fetched.json, `referrer ${referrer.digest}`);
    const ownType = fetched.json["artifactType"];
    const ownAnnotations = fetched.json["annotations"];
    const ownBundleType =
      ownAnnotations && typeof ownAnnotations === "object" ? (ownAnnotations as Record<string, unknown>)[Annotation.BundlePredicateType] : undefined;
    const artifactType = referrer.artifactType ?? (typeof ownType === "string" ? ownType : manifest.config.mediaType);
    const bundleType = referrer.annotations?.[Annotation.BundlePredicateType] ?? (typeof ownBundleType === "string" ? ownBundleType : undefined);
    const document = DOCUMENT_ARTIFACT_TYPES[artifactType];
    const documentKind = document && kindOf(document.predicateType);
    for (const layer of manifest.layers) {
      if (document) {
        if (documentKind) candidates.push({ origin: "referrers", source: documentKind, predicateType: document.predicateType, blob: layer, wrapping: "document" });
        break;
      }
      const wrapping =
        layer.mediaType === MediaType.SigstoreBundle || layer.mediaType.startsWith("application/vnd.dev.sigstore.bundle")
          ? "sigstore-bundle"
          : layer.mediaType === MediaType.DsseEnvelope
            ? "dsse"
            : layer.mediaType === MediaType.InToto
              ? "in-toto"
              : undefined;
      if (!wrapping) continue;
      const predicateType =
        wrapping === "sigstore-bundle"
          ? bundleType
          : (layer.annotations?.[Annotation.InTotoPredicateType] ?? layer.annotations?.[Annotation.CosignPredicateType]);
      const source = predicateType && kindOf(predicateType);
      if (source) candidates.push({ origin: "referrers", source, predicateType, blob: layer, wrapping });
    }
  }
  return candidates;
}

/** Whether a referrer can hold an attestation `kindOf` knows, judged from its descriptor alone; when in doubt, yes. */
function mayHold(referrer: Descriptor, kindOf: PredicateKind<string>): boolean {
  const bundleType = referrer.annotations?.[Annotation.BundlePredicateType];
  if (bundleType !== undefined) return kindOf(bundleType) !== undefined;
  const predicateType = referrer.annotations?.[Annotation.InTotoPredicateType];
  if (predicateType !== undefined) return kindOf(predicateType) !== undefined;
  const type = referrer.artifactType ?? "";
  const document = DOCUMENT_ARTIFACT_TYPES[type];
  if (document) return kindOf(document.predicateType) !== undefined;
  if (type === MediaType.InToto || type === MediaType.DsseEnvelope || type.startsWith("application/vnd.dev.sigstore.bundle")) return true;
  // Signatures (cosign, notation), SLSA-only artifacts, Helm charts, WASM…: no attestation inside.
  return type === "" || type === MediaType.OciEmpty || /sbom|spdx|cyclonedx|in-toto|attestation|vuln/i.test(type);
}
