import type { Digest, ImageName } from "../../reference/types.js";
import { MediaType, type Registry } from "../../registry/types.js";
import type { PackageListCache } from "../cache.js";
import { shortDigest } from "../layers/messages.js";
import { parseJsonDocument, statementFromAttestation, statementMatchesDigest, type InTotoStatement } from "../parse/attestation.js";
import { packagesFromSbom, sbomSourceOf } from "../parse/sbom.js";
import type { PackageList } from "../types.js";
import type { AttestationCandidate, SbomCandidate } from "./candidates.js";

export const DEFAULT_MAX_SBOM_BYTES = 64 * 1024 * 1024;

/** An SBOM that was found but cannot serve; the message says why. */
export class SbomError extends Error {
  override readonly name = "SbomError";
}

export interface ReadSbomOptions {
  readonly cache?: PackageListCache;
  /** Largest SBOM blob downloaded. Default 64 MiB. */
  readonly maxBytes?: number;
}

/**
 * Downloads one SBOM blob (size-capped), unwraps the statement, checks that its subject is `subject` and returns the
 * packages it lists. Throws SbomError (or RegistryError, AttestationError) when it cannot be used, and when it lists
 * no package.
 */
export async function readSbom(
  registry: Registry,
  name: ImageName,
  candidate: SbomCandidate,
  subject: Digest,
  options: ReadSbomOptions = {},
): Promise<PackageList> {
  const cached = options.cache?.getSbom(candidate.blob.digest, subject);
  if (cached) return cached;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_SBOM_BYTES;
  if (candidate.blob.size > maxBytes) {
    throw new SbomError(`the SBOM ${shortDigest(candidate.blob.digest)} is ${candidate.blob.size} bytes, over the ${maxBytes}-byte limit`);
  }
  const bytes = await registry.getBlob(name, candidate.blob.digest, maxBytes);
  const list = packageListOf(candidate, bytes, subject);
  // An SBOM listing nothing says nothing about the image: a diff against it would be empty or all-added.
  if (list.packages.length === 0) throw new SbomError(`the SBOM ${shortDigest(candidate.blob.digest)} lists no packages digesta can read`);
  options.cache?.setSbom(candidate.blob.digest, subject, list);
  return list;
}

/**
 * The in-toto statement of an attestation blob, checked to be about `subject`: an attestation of another image
 * (copied, or swapped by whoever can push tags) is refused. Throws SbomError, AttestationError.
 */
export function attestedStatement(candidate: AttestationCandidate<string>, bytes: Uint8Array, subject: Digest, what: string): InTotoStatement {
  if (candidate.wrapping === "document") throw new SbomError(`the ${what} ${shortDigest(candidate.blob.digest)} is a bare document, not a statement about an image`);
  const mediaType = { "in-toto": MediaType.InToto, dsse: MediaType.DsseEnvelope, "sigstore-bundle": MediaType.SigstoreBundle }[candidate.wrapping];
  const statement: InTotoStatement = statementFromAttestation(mediaType, bytes);
  if (!statementMatchesDigest(statement, subject)) {
    const named = statement.subject.flatMap((s) => Object.entries(s.digest).map(([alg, hex]) => shortDigest(`${alg}:${hex}`)));
    throw new SbomError(`the ${what} ${shortDigest(candidate.blob.digest)} is about ${named.join(", ") || "no image"}, not ${shortDigest(subject)}; ignored`);
  }
  return statement;
}

function packageListOf(candidate: SbomCandidate, bytes: Uint8Array, subject: Digest): PackageList {
  if (candidate.wrapping === "document") {
    const document = parseJsonDocument(bytes, `the SBOM ${shortDigest(candidate.blob.digest)}`, { maxBytes: bytes.length });
    return { source: candidate.source, packages: packagesFromSbom(candidate.predicateType, document) ?? [] };
  }
  const statement = attestedStatement(candidate, bytes, subject, "SBOM attestation");
  const source = sbomSourceOf(statement.predicateType);
  if (!source) throw new SbomError(`the attestation ${shortDigest(candidate.blob.digest)} holds a ${statement.predicateType} predicate, not an SBOM`);
  const packages = packagesFromSbom(statement.predicateType, statement.predicate);
  return { source, packages: packages ?? [] };
}
