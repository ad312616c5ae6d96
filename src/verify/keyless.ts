// Keyless (Sigstore) signatures: loaded only when a keyless rule has an image to check.
import { createHash, X509Certificate as NodeCertificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { bundleFromJSON, type Bundle } from "@sigstore/bundle";
import { TrustedRoot } from "@sigstore/protobuf-specs";
import { toSignedEntity, toTrustMaterial, Verifier, type Signer, type TrustMaterial } from "@sigstore/verify";
import { errorLine } from "../errors/error-line.js";
import type { Digest, ImageName } from "../reference/types.js";
import type { Registry } from "../registry/types.js";
import { signedSubject } from "./bundle-subject.js";
import { PUBLIC_GOOD_TRUSTED_ROOT } from "./public-good-root.js";
import { cosignSignatures, referrerBundles } from "./registry.js";
import { describeCheck, identityMatches, PATTERN_BUDGET_MS, type SignerCheck } from "./rules.js";
import type { SignatureSourceOptions } from "./source.js";
import { noneValid, type BundleCandidate, type CosignSignature, type Verdict } from "./types.js";

type KeylessCheck = Extract<SignerCheck, { kind: "keyless" }>;

/** id-kp-codeSigning: the extended key usage Fulcio gives every certificate. */
const CODE_SIGNING = "1.3.6.1.5.5.7.3.3";
const MAX_TRUSTED_ROOT_BYTES = 1024 * 1024;

const trustMaterials = new Map<string, Promise<TrustMaterial>>();

/** The trust material of a trusted root file, or of the public-good root shipped with digesta; read once per process. */
export function trustMaterialOf(file: string | undefined): Promise<TrustMaterial> {
  const key = file ?? "";
  let material = trustMaterials.get(key);
  if (!material) {
    material = loadTrustMaterial(file);
    material.catch(() => trustMaterials.delete(key));
    trustMaterials.set(key, material);
  }
  return material;
}

async function loadTrustMaterial(file: string | undefined): Promise<TrustMaterial> {
  let json: unknown = PUBLIC_GOOD_TRUSTED_ROOT;
  const shown = file === undefined ? "the public-good trusted root" : `trusted root ${JSON.stringify(file)}`;
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      throw new Error(`cannot read ${shown}: ${errorLine(error)}`);
    }
    if (text.length > MAX_TRUSTED_ROOT_BYTES) throw new Error(`${shown} is larger than 1 MiB; no trusted root is`);
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${shown} is not JSON`);
    }
  }
  try {
    const root = TrustedRoot.fromJSON(json);
    if (root.certificateAuthorities.length === 0) throw new Error("it names no certificate authority");
    if (root.tlogs.length === 0) throw new Error("it names no transparency log");
    return toTrustMaterial(root);
  } catch (error) {
    throw new Error(`${shown} is not a Sigstore trusted root: ${errorLine(error)}`);
  }
}

/**
 * Keyless verification of `name@digest`: each Sigstore bundle found through the OCI referrers of the digest (the
 * referrers API, or the `sha256-<hex>` tag where the registry has none), and each keyless cosign signature under the
 * `.sig` tag, is verified against the trusted root (certificate chain to a Fulcio CA valid at the log's time, the
 * signature over the payload, the transparency-log entry and its inclusion, SCTs where the root lists CT logs); the
 * payload must be about this very digest, and the certificate must name the identity and issuer the rule asks for.
 */
export async function verifyKeyless(registry: Registry, name: ImageName, digest: Digest, check: KeylessCheck, options: SignatureSourceOptions): Promise<Verdict> {
  const trust = await trustMaterialOf(options.trustedRoot);
  const candidates = [...(await referrerBundles(registry, name, digest)), ...cosignKeyless(await cosignSignatures(registry, name, digest))];
  if (candidates.length === 0) return { status: "not-signed", reason: "no Sigstore bundle among the image's referrers and no keyless cosign signature" };
  const verifier = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: trust.ctlogs.length > 0 ? 1 : 0 });
  const problems: string[] = [];
  for (const candidate of candidates) {
    const outcome = await verifyCandidate(registry, name, digest, candidate, verifier, check);
    if (typeof outcome === "string") problems.push(`${candidate.where}: ${outcome}`);
    else return outcome;
  }
  return noneValid(candidates.length, problems);
}

async function verifyCandidate(
  registry: Registry,
  name: ImageName,
  digest: Digest,
  candidate: BundleCandidate,
  verifier: Verifier,
  check: KeylessCheck,
): Promise<Verdict | string> {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(candidate.bundle);
  } catch (error) {
    return `not a Sigstore bundle (${errorLine(error)})`;
  }
  if (bundle.verificationMaterial.content.$case === "publicKey") return "signed with a key, not a certificate (a key rule's signature)";
  // What the signature is about, checked before the signature itself: a valid bundle for another image verifies nothing here.
  const subject = await signedSubject(registry, name, digest, bundle, candidate);
  if (typeof subject === "string") return subject;
  const { artifact, dockerReference } = subject;
  let signer: Signer;
  try {
    signer = verifier.verify(toSignedEntity(bundle, artifact ? Buffer.from(artifact) : undefined));
  } catch (error) {
    return verificationFailure(error);
  }
  // As cosign: a certificate issued for anything but code signing signs no image.
  if (!leafCertificate(bundle)?.keyUsage?.includes(CODE_SIGNING)) return "the certificate is not issued for code signing (extended key usage)";
  const identity = signer.identity?.subjectAlternativeName;
  const issuer = signer.identity?.extensions?.issuer;
  const matched = identityMatches(check.identity, identity);
  const issued = matched === true ? identityMatches(check.issuer, issuer) : false;
  if (matched === "too-slow" || issued === "too-slow") {
    return `matching ${describeCheck(check)} against the certificate ran past ${PATTERN_BUDGET_MS / 1000} s: simplify ${matched === "too-slow" ? "identityRegexp" : "issuerRegexp"}`;
  }
  if (!matched || !issued) {
    return `signed by identity ${identity ?? "(none)"} (issuer ${issuer ?? "(none)"}), not ${describeCheck(check)}`;
  }
  return { status: "verified", by: `identity ${identity} (issuer ${issuer})`, ...(dockerReference ? { dockerReference } : {}) };
}

/** The signing certificate of a bundle (the first of a chain). */
function leafCertificate(bundle: Bundle): NodeCertificate | undefined {
  const material = bundle.verificationMaterial.content;
  const raw =
    material.$case === "x509CertificateChain"
      ? material.x509CertificateChain.certificates[0]?.rawBytes
      : material.$case === "certificate"
        ? material.certificate.rawBytes
        : undefined;
  return raw ? new NodeCertificate(Buffer.from(raw)) : undefined;
}

/** Sigstore's errors say what failed (`TLOG_ERROR: expected 1 tlog entries, got 0`), and their cause why. */
function verificationFailure(error: unknown): string {
  const { code, message, cause } = error as { code?: string; message?: string; cause?: unknown };
  const because = cause instanceof Error ? ` (${cause.message})` : "";
  return `${code ? `${code}: ` : ""}${message ?? String(error)}${because}`;
}

/**
 * cosign's keyless `.sig` layers as bundles: the certificate (and chain) annotations, and Rekor's entry with its
 * signed entry timestamp from the bundle annotation, over the simple-signing payload.
 */
function cosignKeyless(signatures: readonly CosignSignature[]): BundleCandidate[] {
  return signatures.flatMap((signature, index): BundleCandidate[] => {
    if (!signature.certificate) return [];
    const where = `cosign signature ${index + 1}`;
    try {
      const certificates = [signature.certificate, ...(signature.chain ? splitPem(signature.chain) : [])].map((pem) => ({
        rawBytes: new NodeCertificate(pem).raw.toString("base64"),
      }));
      const rekor = signature.rekorBundle ? (JSON.parse(signature.rekorBundle) as RekorBundle) : undefined;
      const tlogEntries = rekor ? [tlogEntryOf(rekor)] : [];
      const bundle = {
        mediaType: "application/vnd.dev.sigstore.bundle+json;version=0.1",
        verificationMaterial: { x509CertificateChain: { certificates }, tlogEntries, timestampVerificationData: { rfc3161Timestamps: [] } },
        messageSignature: {
          messageDigest: { algorithm: "SHA2_256", digest: createHash("sha256").update(signature.payload).digest("base64") },
          signature: signature.signature,
        },
      };
      return [{ where, bundle, artifact: signature.payload, simpleSigning: true }];
    } catch (error) {
      return [{ where, bundle: { unreadable: errorLine(error) } }];
    }
  });
}

/** cosign's `dev.sigstore.cosign/bundle` annotation: Rekor's signed entry timestamp and what it signs. */
interface RekorBundle {
  readonly SignedEntryTimestamp: string;
  readonly Payload: { readonly body: string; readonly integratedTime: number; readonly logIndex: number; readonly logID: string };
}

function tlogEntryOf(rekor: RekorBundle) {
  const body = JSON.parse(Buffer.from(rekor.Payload.body, "base64").toString("utf8")) as { kind?: string; apiVersion?: string };
  return {
    logIndex: String(rekor.Payload.logIndex),
    logId: { keyId: Buffer.from(rekor.Payload.logID, "hex").toString("base64") },
    kindVersion: { kind: body.kind ?? "", version: body.apiVersion ?? "" },
    integratedTime: String(rekor.Payload.integratedTime),
    inclusionPromise: { signedEntryTimestamp: rekor.SignedEntryTimestamp },
    canonicalizedBody: rekor.Payload.body,
  };
}

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
