import { verify } from "node:crypto";
import { isDigest } from "../reference/digest.js";
import type { Digest } from "../reference/types.js";
import type { VerificationKey } from "./keys.js";
import type { CosignSignature, SimpleSigningPayload, Verdict } from "./types.js";
import { digestTag } from "../reference/format.js";

/** The annotation on each layer of a cosign `.sig` manifest holding the base64 signature of that layer's payload. */
export const COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
/** The annotations of a keyless cosign signature layer: the certificate, its chain, and Rekor's signed entry timestamp. */
export const COSIGN_CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate";
export const COSIGN_CHAIN_ANNOTATION = "dev.sigstore.cosign/chain";
export const COSIGN_BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle";
/** The tag cosign keeps an image's signatures under: `sha256-<hex>.sig`. */
export const cosignSignatureTag = (digest: Digest): string => digestTag(digest, ".sig");

/** Reads a simple-signing payload (`{"critical": {"image": {"docker-manifest-digest": …}, "identity": {…}}}`). */
export function parseSimpleSigning(payload: Uint8Array): SimpleSigningPayload | string {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload).toString("utf8"));
  } catch {
    return "the signed payload is not JSON";
  }
  const critical = (json as { critical?: { image?: Record<string, unknown>; identity?: Record<string, unknown>; type?: unknown } } | null)?.critical;
  const digest = critical?.image?.["docker-manifest-digest"];
  if (typeof digest !== "string" || !isDigest(digest)) return "the signed payload names no sha256 image digest";
  const reference = critical?.identity?.["docker-reference"];
  return { manifestDigest: digest, ...(typeof reference === "string" ? { dockerReference: reference } : {}) };
}

/** The verified verdict of the first of `signatures` by `key` over a payload naming `digest`, else what was wrong with each. */
export function cosignVerification(signatures: readonly CosignSignature[], digest: Digest, key: VerificationKey): Verdict | string[] {
  const problems: string[] = [];
  for (const { payload, signature } of signatures) {
    if (!signedBy(key, payload, signature)) {
      problems.push(`no signature verifies with ${key.fingerprint}`);
      continue;
    }
    const parsed = parseSimpleSigning(payload);
    if (typeof parsed === "string") {
      problems.push(parsed);
      continue;
    }
    if (parsed.manifestDigest !== digest) {
      problems.push(`the signed payload names ${parsed.manifestDigest}, not this image`);
      continue;
    }
    return { status: "verified", by: `key ${key.fingerprint}`, ...(parsed.dockerReference ? { dockerReference: parsed.dockerReference } : {}) };
  }
  return problems;
}

/** Whether `signature` (base64, or raw bytes) is `key`'s over `data`; a malformed signature is simply not. */
export function signedBy(key: VerificationKey, data: Uint8Array, signature: string | Uint8Array): boolean {
  try {
    return verify(key.hash, data, key.key, typeof signature === "string" ? Buffer.from(signature, "base64") : signature);
  } catch {
    return false;
  }
}
