import { createHash, createPublicKey, type KeyObject } from "node:crypto";

/** A public key that verifies signatures, with the hash its signatures are made over and a fingerprint to show. */
export interface VerificationKey {
  readonly key: KeyObject;
  /** `sha256`, `sha384`, `sha512`, or null for Ed25519 (which hashes internally). */
  readonly hash: string | null;
  /** `SHA256:<base64>` of the DER public key, as `ssh-keygen -l` and cosign show keys. */
  readonly fingerprint: string;
}

const CURVE_HASH: Record<string, string> = { prime256v1: "sha256", secp384r1: "sha384", secp521r1: "sha512" };

/**
 * Reads a PEM public key (ECDSA P-256/P-384/P-521, RSA, Ed25519), as `cosign generate-key-pair` writes them;
 * throws saying which kinds are supported for anything else.
 */
export function loadVerificationKey(pem: string, source = "the key"): VerificationKey {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new Error(`${source} is not a PEM public key: ${(error as Error).message.split("\n")[0]}`);
  }
  const type = key.asymmetricKeyType;
  let hash: string | null;
  if (type === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? "";
    const found = CURVE_HASH[curve];
    if (!found) throw new Error(`${source} is an EC key on ${curve || "an unknown curve"}; P-256, P-384 and P-521 are supported`);
    hash = found;
  } else if (type === "rsa") {
    hash = "sha256";
  } else if (type === "ed25519") {
    hash = null;
  } else {
    throw new Error(`${source} is a ${type ?? "unknown"} key; ECDSA, RSA and Ed25519 keys are supported`);
  }
  const der = key.export({ type: "spki", format: "der" });
  const fingerprint = `SHA256:${createHash("sha256").update(der).digest("base64").replace(/=+$/, "")}`;
  return { key, hash, fingerprint };
}
