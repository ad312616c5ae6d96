import type { Digest } from "../../reference/types.js";

/** An attestation that could not be read; the message says what was wrong with it. */
export class AttestationError extends Error {
  override readonly name = "AttestationError";
}

export interface InTotoSubject {
  readonly name?: string;
  readonly digest: Readonly<Record<string, string>>;
}

export interface InTotoStatement {
  readonly predicateType: string;
  readonly subject: readonly InTotoSubject[];
  /** The predicate, already parsed when it came as a JSON string (cosign). */
  readonly predicate: unknown;
}

/** A bare in-toto statement (bytes, JSON text, or parsed JSON), validated. Throws AttestationError. */
export function parseInTotoStatement(input: Uint8Array | string | unknown): InTotoStatement {
  void input;
  throw new Error("parseInTotoStatement: not implemented yet");
}

/** The in-toto statement inside a DSSE envelope (payloadType application/vnd.in-toto+json). Signatures are not checked. */
export function unwrapDsseEnvelope(json: unknown): InTotoStatement {
  void json;
  throw new Error("unwrapDsseEnvelope: not implemented yet");
}

/** The in-toto statement inside a Sigstore bundle's `dsseEnvelope`. Signatures are not checked. */
export function unwrapSigstoreBundle(json: unknown): InTotoStatement {
  void json;
  throw new Error("unwrapSigstoreBundle: not implemented yet");
}

/**
 * The statement in an attestation blob, whichever of the three wrappings it uses, chosen by media type
 * (InToto, DsseEnvelope, SigstoreBundle in registry/types.ts MediaType) or, for other media types, by shape.
 */
export function statementFromAttestation(mediaType: string, bytes: Uint8Array): InTotoStatement {
  void mediaType;
  void bytes;
  throw new Error("statementFromAttestation: not implemented yet");
}

/** Whether one of the statement's subjects is the image with this digest. */
export function statementMatchesDigest(statement: InTotoStatement, digest: Digest | string): boolean {
  void statement;
  void digest;
  throw new Error("statementMatchesDigest: not implemented yet");
}
