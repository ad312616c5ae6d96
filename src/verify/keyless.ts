// Keyless (Sigstore) signatures: loaded only when a keyless rule has an image to check.
import { createHash, X509Certificate as NodeCertificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { bundleFromJSON, type Bundle } from "@sigstore/bundle";
import { TrustedRoot } from "@sigstore/protobuf-specs";
import { toSignedEntity, toTrustMaterial, Verifier, type Signer, type TrustMaterial } from "@sigstore/verify";
import { isIndex } from "../diff/platform.js";
import { errorLine } from "../errors/error-line.js";
import type { Digest, ImageName } from "../reference/types.js";
import { RegistryError } from "../registry/errors.js";
import { parseImageManifest } from "../registry/manifest.js";
import type { Registry } from "../registry/types.js";
import { parseSimpleSigning } from "./cosign.js";
import { PUBLIC_GOOD_TRUSTED_ROOT } from "./public-good-root.js";
import { cosignSignatures } from "./registry.js";
import { describeCheck, identityMatches, PATTERN_BUDGET_MS, type SignerCheck } from "./rules.js";
import type { SignatureSourceOptions } from "./source.js";
import type { CosignSignature, Verdict } from "./types.js";

type KeylessCheck = Extract<SignerCheck, { kind: "keyless" }>;

/** Sigstore bundles stored as OCI artifacts (cosign --new-bundle-format, GitHub's attest actions): v0.3 and later. */
const BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle";
const IN_TOTO_PAYLOAD = "application/vnd.in-toto+json";
/** id-kp-codeSigning: the extended key usage Fulcio gives every certificate. */
const CODE_SIGNING = "1.3.6.1.5.5.7.3.3";
/** More bundles than anyone attaches to one image: a hostile registry cannot make us fetch thousands. */
const MAX_BUNDLES = 16;
/** Bundles carry a certificate, a log entry and at most a provenance statement: a few KiB to a few hundred. */
const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;
const MAX_TRUSTED_ROOT_BYTES = 1024 * 1024;

/** A bundle found for an image, with what its signature covers once it verifies. */
interface Candidate {
  readonly where: string;
  readonly bundle: unknown;
  /** The signed bytes of a message signature (the image manifest, or a cosign simple-signing payload). */
  readonly artifact?: Uint8Array;
  /** For a cosign `.sig` layer: its simple-signing payload names the digest. */
  readonly simpleSigning?: boolean;
}

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
  const problems = new Set<string>();
  for (const candidate of candidates) {
    const outcome = await verifyCandidate(registry, name, digest, candidate, verifier, check);
    if (typeof outcome === "string") problems.add(`${candidate.where}: ${outcome}`);
    else return outcome;
  }
  return { status: "invalid", reason: `${candidates.length} signature(s), none valid: ${[...problems].join("; ")}` };
}

async function verifyCandidate(
  registry: Registry,
  name: ImageName,
  digest: Digest,
  candidate: Candidate,
  verifier: Verifier,
  check: KeylessCheck,
): Promise<Verdict | string> {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(candidate.bundle);
  } catch (error) {
    return `not a Sigstore bundle (${errorLine(error)})`;
  }
  // What the signature is about, checked before the signature itself: a valid bundle for another image verifies nothing here.
  let artifact = candidate.artifact;
  let dockerReference: string | undefined;
  if (bundle.content.$case === "dsseEnvelope") {
    const envelope = bundle.content.dsseEnvelope;
    if (envelope.payloadType !== IN_TOTO_PAYLOAD) return `the envelope holds ${envelope.payloadType}, not an in-toto statement`;
    const subject = statementSubject(envelope.payload, digest);
    if (typeof subject === "string") return subject;
    dockerReference = subject.name;
  } else if (candidate.simpleSigning) {
    const parsed = parseSimpleSigning(artifact!);
    if (typeof parsed === "string") return parsed;
    if (parsed.manifestDigest !== digest) return `the signed payload names ${parsed.manifestDigest}, not this image`;
    dockerReference = parsed.dockerReference;
  } else {
    const signed = bundle.content.messageSignature.messageDigest;
    const hex = signed ? Buffer.from(signed.digest).toString("hex") : "";
    if (signed?.algorithm !== 2 /* SHA2_256 */ || `sha256:${hex}` !== digest) return `the signature is over ${hex ? `sha256:${hex}` : "another artifact"}, not this image`;
    artifact = (await registry.getManifest(name, digest)).bytes;
  }
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
  if (matched === "too-slow") {
    return `matching ${describeCheck(check)} against the certificate's identity ran past ${PATTERN_BUDGET_MS / 1000} s: simplify identityRegexp`;
  }
  if (!matched || issuer !== check.issuer) {
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

/** The subject of an in-toto statement naming `digest`, or why there is none. */
function statementSubject(payload: Buffer, digest: Digest): { name?: string } | string {
  let statement: unknown;
  try {
    statement = JSON.parse(payload.toString("utf8"));
  } catch {
    return "the envelope's statement is not JSON";
  }
  const subjects = (statement as { subject?: unknown } | null)?.subject;
  if (!Array.isArray(subjects)) return "the statement has no subject";
  const hex = digest.slice("sha256:".length);
  const found = subjects.find((s: unknown) => (s as { digest?: { sha256?: unknown } } | null)?.digest?.sha256 === hex) as { name?: unknown } | undefined;
  if (!found) return "the statement is about other digests, not this image";
  return typeof found.name === "string" ? { name: found.name } : {};
}

/** Sigstore's errors say what failed (`TLOG_ERROR: expected 1 tlog entries, got 0`), and their cause why. */
function verificationFailure(error: unknown): string {
  const { code, message, cause } = error as { code?: string; message?: string; cause?: unknown };
  const because = cause instanceof Error ? ` (${cause.message})` : "";
  return `${code ? `${code}: ` : ""}${message ?? String(error)}${because}`;
}

/** Sigstore bundles among the referrers of `digest`. */
async function referrerBundles(registry: Registry, name: ImageName, digest: Digest): Promise<Candidate[]> {
  let referrers;
  try {
    referrers = await registry.referrers(name, digest);
  } catch (error) {
    if (error instanceof RegistryError && error.code === "NOT_FOUND") return [];
    throw error;
  }
  const candidates: Candidate[] = [];
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
 * cosign's keyless `.sig` layers as bundles: the certificate (and chain) annotations, and Rekor's entry with its
 * signed entry timestamp from the bundle annotation, over the simple-signing payload.
 */
function cosignKeyless(signatures: readonly CosignSignature[]): Candidate[] {
  return signatures.flatMap((signature, index): Candidate[] => {
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
