import { z } from "zod";
import type { Digest } from "../../reference/types.js";
import { MediaType } from "../../registry/types.js";

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

export interface AttestationLimits {
  /** Largest document accepted, in bytes (or UTF-16 units for strings); default 64 MiB. */
  readonly maxBytes?: number;
  /** Most JSON values (objects, arrays and the items in them) accepted in one document; default 4 million. */
  readonly maxValues?: number;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/**
 * JSON.parse makes a heap object or slot of every value, some 64 bytes for an empty object: a 64 MiB document of
 * `{},` would take 1.4 GiB. Real SBOMs hold well under a million values; this bounds a hostile one to ~250 MiB.
 */
const DEFAULT_MAX_VALUES = 4_000_000;

/** Whether `text` holds more than `max` JSON values, counted as the commas and brackets outside strings. */
function hasMoreValuesThan(text: string, max: number): boolean {
  let count = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if ((c === 0x2c /* , */ || c === 0x7b /* { */ || c === 0x5b /* [ */) && ++count > max) {
      return true;
    }
  }
  return false;
}

const statementSchema = z.object({
  _type: z.string().startsWith("https://in-toto.io/Statement/", "is not an in-toto statement type"),
  subject: z
    .array(
      z.object({
        name: z.string().max(4096).optional(),
        digest: z.record(z.string().max(64), z.string().max(1024)),
      }),
    )
    .max(10_000),
  predicateType: z.string().min(1).max(1024),
  predicate: z.unknown().optional(),
});

const dsseSchema = z.object({
  payloadType: z.string().max(1024),
  payload: z.string(),
  signatures: z.array(z.unknown()).optional(),
});

const bundleSchema = z.object({
  mediaType: z.string().max(1024).optional(),
  dsseEnvelope: z.unknown().optional(),
});

/** The first issue zod found, as one line: "subject.0.digest: expected record, received string". */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const path = issue.path.map(String).join(".");
  return `${path || "(document)"}: ${issue.message}`.slice(0, 300);
}

/**
 * Parses a JSON document from a registry, refusing one over the size or value limits before JSON.parse sees it.
 * Throws AttestationError naming `what`.
 */
export function parseJsonDocument(input: Uint8Array | string, what: string, limits: AttestationLimits = {}): unknown {
  const max = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  if (input.length > max) throw new AttestationError(`${what} is ${input.length} bytes, over the ${max}-byte limit`);
  const text = typeof input === "string" ? input : new TextDecoder().decode(input);
  const maxValues = limits.maxValues ?? DEFAULT_MAX_VALUES;
  if (hasMoreValuesThan(text, maxValues)) throw new AttestationError(`${what} holds more than ${maxValues} JSON values; refusing to parse it`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AttestationError(`${what} is not JSON (${e instanceof Error ? e.message.slice(0, 120) : "parse error"})`);
  }
}

/** Bytes and JSON text are parsed; anything else is taken as already-parsed JSON. */
function asJson(input: unknown, what: string, limits: AttestationLimits): unknown {
  return typeof input === "string" || input instanceof Uint8Array ? parseJsonDocument(input, what, limits) : input;
}

/** A bare in-toto statement (bytes, JSON text, or parsed JSON), validated. Throws AttestationError. */
export function parseInTotoStatement(input: Uint8Array | string | unknown, limits: AttestationLimits = {}): InTotoStatement {
  const json = asJson(input, "the in-toto statement", limits);
  const parsed = statementSchema.safeParse(json);
  if (!parsed.success) throw new AttestationError(`the in-toto statement is malformed: ${firstIssue(parsed.error)}`);
  const { predicateType, subject } = parsed.data;
  let predicate = parsed.data.predicate;
  // cosign puts some predicates in as a JSON string.
  if (typeof predicate === "string") {
    const trimmed = predicate.trimStart();
    if (trimmed.startsWith("{") || trimmed.startsWith("[")) predicate = parseJsonDocument(predicate, "the statement's predicate", limits);
  }
  return {
    predicateType,
    subject: subject.map((s) => (s.name === undefined ? { digest: s.digest } : { name: s.name, digest: s.digest })),
    predicate,
  };
}

/** The in-toto statement inside a DSSE envelope (payloadType application/vnd.in-toto+json). Signatures are not checked. */
export function unwrapDsseEnvelope(json: unknown, limits: AttestationLimits = {}): InTotoStatement {
  const parsed = dsseSchema.safeParse(asJson(json, "the DSSE envelope", limits));
  if (!parsed.success) throw new AttestationError(`the DSSE envelope is malformed: ${firstIssue(parsed.error)}`);
  const { payloadType, payload } = parsed.data;
  if (payloadType.toLowerCase() !== MediaType.InToto) {
    throw new AttestationError(`the DSSE envelope carries ${JSON.stringify(payloadType.slice(0, 100))}, not an in-toto statement`);
  }
  const compact = payload.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact)) throw new AttestationError("the DSSE envelope's payload is not base64");
  return parseInTotoStatement(Buffer.from(compact, "base64"), limits);
}

/** The in-toto statement inside a Sigstore bundle's `dsseEnvelope`. Signatures are not checked. */
export function unwrapSigstoreBundle(json: unknown, limits: AttestationLimits = {}): InTotoStatement {
  const parsed = bundleSchema.safeParse(asJson(json, "the Sigstore bundle", limits));
  if (!parsed.success) throw new AttestationError(`the Sigstore bundle is malformed: ${firstIssue(parsed.error)}`);
  if (parsed.data.dsseEnvelope === undefined) {
    throw new AttestationError("the Sigstore bundle has no dsseEnvelope (it signs a blob, not an attestation)");
  }
  return unwrapDsseEnvelope(parsed.data.dsseEnvelope, limits);
}

/**
 * The statement in an attestation blob, whichever of the three wrappings it uses, chosen by media type
 * (InToto, DsseEnvelope, Sigstore bundle) or, for other media types, by the document's shape.
 */
export function statementFromAttestation(mediaType: string, bytes: Uint8Array, limits: AttestationLimits = {}): InTotoStatement {
  const type = mediaType.toLowerCase();
  if (type === MediaType.InToto) return parseInTotoStatement(bytes, limits);
  if (type === MediaType.DsseEnvelope) return unwrapDsseEnvelope(bytes, limits);
  if (type.startsWith("application/vnd.dev.sigstore.bundle")) return unwrapSigstoreBundle(bytes, limits);
  const json = parseJsonDocument(bytes, `the attestation (${mediaType.slice(0, 100)})`, limits);
  if (typeof json === "object" && json !== null) {
    if ("dsseEnvelope" in json) return unwrapSigstoreBundle(json, limits);
    if ("payloadType" in json) return unwrapDsseEnvelope(json, limits);
    if ("_type" in json) return parseInTotoStatement(json, limits);
  }
  throw new AttestationError(`the ${mediaType.slice(0, 100)} blob is neither an in-toto statement, a DSSE envelope nor a Sigstore bundle`);
}

/** Whether one of the statement's subjects is the image with this digest (`sha256:…`). */
export function statementMatchesDigest(statement: InTotoStatement, digest: Digest | string): boolean {
  const colon = digest.indexOf(":");
  if (colon <= 0) return false;
  const algorithm = digest.slice(0, colon).toLowerCase();
  const hex = digest.slice(colon + 1).toLowerCase();
  return statement.subject.some((s) => Object.hasOwn(s.digest, algorithm) && s.digest[algorithm]?.toLowerCase() === hex);
}
