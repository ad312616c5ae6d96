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
  verifyCosignSignatures,
} from "./cosign.js";
import type { VerificationKey } from "./keys.js";
import type { CosignSignature, Verdict } from "./types.js";

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

/** Checks `name@digest` against `key`: its cosign signatures must include one by the key over a payload naming the digest. */
export async function verifyImage(registry: Registry, name: ImageName, digest: Digest, key: VerificationKey): Promise<Verdict> {
  return verifyCosignSignatures(await cosignSignatures(registry, name, digest), digest, key);
}
