// What a Sigstore bundle's signature is about, for keyless and key-signed bundles alike: loaded with the Sigstore code.
import type { Bundle } from "@sigstore/bundle";
import { HashAlgorithm } from "@sigstore/protobuf-specs";
import type { Digest, ImageName } from "../reference/types.js";
import type { Registry } from "../registry/types.js";
import { parseSimpleSigning } from "./cosign.js";
import type { BundleCandidate } from "./types.js";

const IN_TOTO_PAYLOAD = "application/vnd.in-toto+json";

/** What a bundle signs, once it is known to be about this image: the bytes a message signature covers, and the name signed. */
export interface SignedSubject {
  /** The signed bytes of a message signature (the manifest, or a simple-signing payload); none for a DSSE envelope. */
  readonly artifact?: Uint8Array;
  /** The repository the signer named (`docker-reference`, or the statement subject's name): shown, not enforced. */
  readonly dockerReference?: string;
}

/**
 * What `bundle` signs, checked to be `digest` before any signature is: an in-toto statement whose subject is the
 * digest, a simple-signing payload naming it, or a message signature over the digest (the manifest's bytes are then
 * fetched to verify against). A valid signature over another image verifies nothing here. A string says why not.
 */
export async function signedSubject(
  registry: Registry,
  name: ImageName,
  digest: Digest,
  bundle: Bundle,
  candidate: BundleCandidate,
): Promise<SignedSubject | string> {
  if (bundle.content.$case === "dsseEnvelope") {
    const envelope = bundle.content.dsseEnvelope;
    if (envelope.payloadType !== IN_TOTO_PAYLOAD) return `the envelope holds ${envelope.payloadType}, not an in-toto statement`;
    const subject = statementSubject(envelope.payload, digest);
    if (typeof subject === "string") return subject;
    return subject.name !== undefined ? { dockerReference: subject.name } : {};
  }
  if (candidate.simpleSigning) {
    const parsed = parseSimpleSigning(candidate.artifact!);
    if (typeof parsed === "string") return parsed;
    if (parsed.manifestDigest !== digest) return `the signed payload names ${parsed.manifestDigest}, not this image`;
    return { artifact: candidate.artifact!, ...(parsed.dockerReference ? { dockerReference: parsed.dockerReference } : {}) };
  }
  const signed = bundle.content.messageSignature.messageDigest;
  const hex = signed ? Buffer.from(signed.digest).toString("hex") : "";
  if (signed?.algorithm !== HashAlgorithm.SHA2_256 || `sha256:${hex}` !== digest) return `the signature is over ${hex ? `sha256:${hex}` : "another artifact"}, not this image`;
  return { artifact: (await registry.getManifest(name, digest)).bytes };
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
