import type { Digest, ImageName } from "../../reference/types.js";
import { RegistryError } from "../../registry/errors.js";
import { MediaType, type Descriptor, type Registry } from "../../registry/types.js";
import { sbomSourceOf } from "../parse/sbom.js";
import { parseImageManifest } from "../../registry/manifest.js";
import { isIndex, type ImageIndex } from "../platform.js";
import { Annotation, DOCUMENT_ARTIFACT_TYPES, type SbomCandidate, type SbomOrigin } from "./candidates.js";

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
export async function discoverSboms(registry: Registry, name: ImageName, subject: SbomSubject, origin: SbomOrigin): Promise<SbomCandidate[]> {
  switch (origin) {
    case "buildkit":
      return buildkitSboms(registry, name, subject);
    case "referrers":
      return referrerSboms(registry, name, subject.digest);
    case "cosign":
      return cosignSboms(registry, name, subject.digest);
  }
}

/** BuildKit: an `unknown/unknown` manifest in the index, annotated as the attestation manifest of the platform image. */
export async function buildkitSboms(registry: Registry, name: ImageName, subject: SbomSubject): Promise<SbomCandidate[]> {
  const entry = subject.index?.manifests.find(
    (d) => d.annotations?.[Annotation.ReferenceType] === "attestation-manifest" && d.annotations[Annotation.ReferenceDigest] === subject.digest,
  );
  if (!entry) return [];
  const fetched = await registry.getManifest(name, entry.digest);
  if (isIndex(fetched)) return [];
  return parseImageManifest(fetched.json, `attestation manifest ${entry.digest}`).layers.flatMap((layer) => {
    const predicateType = layer.annotations?.[Annotation.InTotoPredicateType];
    const source = predicateType && sbomSourceOf(predicateType);
    return source && layer.mediaType === MediaType.InToto ? [{ origin: "buildkit", source, predicateType, blob: layer, wrapping: "in-toto" } as const] : [];
  });
}

/** cosign: the `sha256-<hex>.att` tag, one DSSE envelope layer per attestation, annotated with its predicate type. */
export async function cosignSboms(registry: Registry, name: ImageName, digest: Digest): Promise<SbomCandidate[]> {
  const tag = `${digest.replace(":", "-")}.att`;
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
    const source = predicateType && sbomSourceOf(predicateType);
    return source ? [{ origin: "cosign", source, predicateType, blob: layer, wrapping: "dsse" } as const] : [];
  });
}

/**
 * OCI 1.1 referrers: Sigstore bundles (predicate type in the manifest's annotation, copied onto the referrer
 * descriptor), in-toto or DSSE layers annotated with their predicate type, and bare SPDX/CycloneDX documents.
 * Signatures and other artifacts are skipped without being fetched.
 */
export async function referrerSboms(registry: Registry, name: ImageName, digest: Digest): Promise<SbomCandidate[]> {
  let referrers: Descriptor[];
  try {
    referrers = await registry.referrers(name, digest);
  } catch (error) {
    if (error instanceof RegistryError && error.code === "NOT_FOUND") return [];
    throw error;
  }
  const worth = referrers.filter(mayHoldSbom).slice(0, MAX_REFERRER_MANIFESTS);
  const candidates: SbomCandidate[] = [];
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
    for (const layer of manifest.layers) {
      if (document) {
        candidates.push({ origin: "referrers", ...document, blob: layer, wrapping: "document" });
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
      const source = predicateType && sbomSourceOf(predicateType);
      if (source) candidates.push({ origin: "referrers", source, predicateType, blob: layer, wrapping });
    }
  }
  return candidates;
}

/** Whether a referrer can be an SBOM, judged from its descriptor alone; when in doubt, yes. */
function mayHoldSbom(referrer: Descriptor): boolean {
  const bundleType = referrer.annotations?.[Annotation.BundlePredicateType];
  if (bundleType !== undefined) return sbomSourceOf(bundleType) !== undefined;
  const predicateType = referrer.annotations?.[Annotation.InTotoPredicateType];
  if (predicateType !== undefined) return sbomSourceOf(predicateType) !== undefined;
  const type = referrer.artifactType ?? "";
  if (type in DOCUMENT_ARTIFACT_TYPES) return true;
  if (type === MediaType.InToto || type === MediaType.DsseEnvelope || type.startsWith("application/vnd.dev.sigstore.bundle")) return true;
  // Signatures (cosign, notation), SLSA-only artifacts, Helm charts, WASM…: no SBOM inside.
  return type === "" || type === MediaType.OciEmpty || /sbom|spdx|cyclonedx|in-toto|attestation/i.test(type);
}
