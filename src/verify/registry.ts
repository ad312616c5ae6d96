import { isIndex } from "../diff/platform.js";
import { imageKey } from "../reference/format.js";
import type { Digest, ImageName } from "../reference/types.js";
import { RegistryError } from "../registry/errors.js";
import { parseImageManifest } from "../registry/manifest.js";
import type { Registry } from "../registry/types.js";
import {
  COSIGN_BUNDLE_ANNOTATION,
  COSIGN_CERTIFICATE_ANNOTATION,
  COSIGN_CHAIN_ANNOTATION,
  COSIGN_SIGNATURE_ANNOTATION,
  cosignSignatureTag,
  cosignVerification,
} from "./cosign.js";
import type { VerificationKey } from "./keys.js";
import { noneValid, type BundleCandidate, type CosignSignature, type Verdict } from "./types.js";

/** Simple-signing payloads are a few hundred bytes; anything past this is not one. */
const MAX_PAYLOAD_BYTES = 64 * 1024;
/** More signatures than anyone attaches to one image: a hostile manifest cannot make us download thousands. */
const MAX_SIGNATURES = 32;

/** The cosign signatures stored for `digest` under its `sha256-<hex>.sig` tag; none when there is no such tag. */
export async function cosignSignatures(registry: Registry, name: ImageName, digest: Digest): Promise<CosignSignature[]> {
  let manifest;
  try {
    manifest = await registry.getManifest(name, cosignSignatureTag(digest));
  } catch (error) {
    if (error instanceof RegistryError && error.code === "NOT_FOUND") return [];
    throw error;
  }
  const { layers } = parseImageManifest(manifest.json, `${imageKey(name)}:${cosignSignatureTag(digest)}`);
  const signed = layers.filter((layer) => typeof layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION] === "string").slice(0, MAX_SIGNATURES);
  return Promise.all(
    signed.map(async (layer) => {
      const annotations = layer.annotations!;
      const certificate = annotations[COSIGN_CERTIFICATE_ANNOTATION];
      const chain = annotations[COSIGN_CHAIN_ANNOTATION];
      const rekorBundle = annotations[COSIGN_BUNDLE_ANNOTATION];
      return {
        payload: await registry.getBlob(name, layer.digest, MAX_PAYLOAD_BYTES),
        signature: annotations[COSIGN_SIGNATURE_ANNOTATION]!,
        ...(certificate ? { certificate } : {}),
        ...(chain ? { chain } : {}),
        ...(rekorBundle ? { rekorBundle } : {}),
      };
    }),
  );
}

/** Sigstore bundles stored as OCI artifacts (cosign --new-bundle-format, GitHub's attest actions): v0.3 and later. */
export const BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle";
/** More bundles than anyone attaches to one image: a hostile registry cannot make us fetch thousands. */
const MAX_BUNDLES = 16;
/** Bundles carry a certificate, a log entry and at most a provenance statement: a few KiB to a few hundred. */
const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;

/** Sigstore bundles among the referrers of `digest` (the referrers API, or the `sha256-<hex>` tag index). */
export async function referrerBundles(registry: Registry, name: ImageName, digest: Digest): Promise<BundleCandidate[]> {
  let referrers;
  try {
    referrers = await registry.referrers(name, digest);
  } catch (error) {
    if (error instanceof RegistryError && error.code === "NOT_FOUND") return [];
    throw error;
  }
  const candidates: BundleCandidate[] = [];
  for (const referrer of referrers.filter((r) => r.artifactType?.startsWith(BUNDLE_TYPE)).slice(0, MAX_BUNDLES)) {
    const fetched = await registry.getManifest(name, referrer.digest);
    if (isIndex(fetched)) continue;
    for (const layer of parseImageManifest(fetched.json, `referrer ${referrer.digest}`).layers) {
      if (!layer.mediaType.startsWith(BUNDLE_TYPE) || layer.size > MAX_BUNDLE_BYTES) continue;
      const bytes = await registry.getBlob(name, layer.digest, MAX_BUNDLE_BYTES);
      let bundle: unknown;
      try {
        bundle = JSON.parse(Buffer.from(bytes).toString("utf8"));
      } catch {
        bundle = undefined;
      }
      candidates.push({ where: `bundle ${referrer.digest.slice(0, 19)}…`, bundle });
    }
  }
  return candidates;
}

/**
 * Checks `name@digest` against `key`, as `cosign verify --key` does for both formats: its cosign signatures under the
 * `.sig` tag must include one by the key over a payload naming the digest, or a Sigstore bundle among its referrers
 * must be signed by the key (public-key material, not a certificate) over a statement or manifest of this digest.
 * The referrers are asked only when no `.sig` signature verifies; the Sigstore code loads only when there are bundles.
 */
export async function verifyImage(registry: Registry, name: ImageName, digest: Digest, key: VerificationKey): Promise<Verdict> {
  const signatures = await cosignSignatures(registry, name, digest);
  const byCosign = cosignVerification(signatures, digest, key);
  if (!Array.isArray(byCosign)) return byCosign;
  const bundles = await referrerBundles(registry, name, digest);
  if (signatures.length === 0 && bundles.length === 0) return { status: "not-signed", reason: "no cosign signature and no Sigstore bundle among the referrers" };
  if (bundles.length === 0) return noneValid(signatures.length, byCosign);
  const { keyBundleVerification } = await import("./key-bundles.js");
  const byBundle = await keyBundleVerification(registry, name, digest, bundles, key);
  if (!Array.isArray(byBundle)) return byBundle;
  return noneValid(signatures.length + bundles.length, [...byCosign, ...byBundle]);
}
