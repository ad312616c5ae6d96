// Sigstore bundles signed with a key (cosign sign --key --new-bundle-format): loaded only when an image a key rule
// names has bundles among its referrers.
import { bundleFromJSON, type Bundle } from "@sigstore/bundle";
import { dsse } from "@sigstore/core";
import { errorLine } from "../errors/error-line.js";
import type { Digest, ImageName } from "../reference/types.js";
import type { Registry } from "../registry/types.js";
import { signedSubject } from "./bundle-subject.js";
import { signedBy } from "./cosign.js";
import type { VerificationKey } from "./keys.js";
import type { BundleCandidate, Verdict } from "./types.js";

/**
 * The verified verdict of the first bundle signed by `key` over this very image, else what was wrong with each. A
 * key-signed bundle carries public-key material (a hint naming the key, not a certificate); as `cosign verify --key`,
 * the hint is not trusted to pick the key: the rule's key must verify the signature, whatever the hint says. The key is
 * the trust anchor, as for a key-signed `.sig` signature: a transparency-log entry the bundle may carry is not required.
 */
export async function keyBundleVerification(
  registry: Registry,
  name: ImageName,
  digest: Digest,
  candidates: readonly BundleCandidate[],
  key: VerificationKey,
): Promise<Verdict | string[]> {
  const problems: string[] = [];
  for (const candidate of candidates) {
    const outcome = await verifyOne(registry, name, digest, candidate, key);
    if (typeof outcome === "string") problems.push(`${candidate.where}: ${outcome}`);
    else return outcome;
  }
  return problems;
}

async function verifyOne(registry: Registry, name: ImageName, digest: Digest, candidate: BundleCandidate, key: VerificationKey): Promise<Verdict | string> {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(candidate.bundle);
  } catch (error) {
    return `not a Sigstore bundle (${errorLine(error)})`;
  }
  if (bundle.verificationMaterial.content.$case !== "publicKey") return "signed with a certificate (keyless), not with a key";
  const subject = await signedSubject(registry, name, digest, bundle, candidate);
  if (typeof subject === "string") return subject;
  let valid: boolean;
  if (bundle.content.$case === "dsseEnvelope") {
    const envelope = bundle.content.dsseEnvelope;
    const signed = dsse.preAuthEncoding(envelope.payloadType, envelope.payload);
    valid = envelope.signatures.some((s) => signedBy(key, signed, s.sig));
  } else {
    valid = signedBy(key, subject.artifact!, bundle.content.messageSignature.signature);
  }
  if (!valid) return `no signature verifies with ${key.fingerprint}`;
  return { status: "verified", by: `key ${key.fingerprint}`, ...(subject.dockerReference ? { dockerReference: subject.dockerReference } : {}) };
}
