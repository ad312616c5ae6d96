// A Sigstore of the test's own: a Fulcio-like CA issuing short-lived certificates for an identity and OIDC issuer, a
// Rekor-like transparency log (RFC 6962 Merkle tree, signed checkpoints, signed entry timestamps), the trusted root
// naming both, and Sigstore bundles as cosign and GitHub's attest actions push them. Nothing leaves the process.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { json as canonicalJson } from "@sigstore/core";
import type { Digest } from "../../src/reference/types.js";
import { pushReferrer, pushReferrersTagIndex } from "./images.js";
import type { TestRegistry } from "./registry-server.js";

// ------------------------------------------------------------------------------------------------------- DER

const tlv = (tag: number, content: Buffer): Buffer => {
  const length = content.length;
  const head =
    length < 0x80 ? Buffer.from([length]) : length < 0x100 ? Buffer.from([0x81, length]) : Buffer.from([0x82, length >> 8, length & 0xff]);
  return Buffer.concat([Buffer.from([tag]), head, content]);
};
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const integer = (value: Buffer) => tlv(0x02, value[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
const octets = (value: Buffer) => tlv(0x04, value);
const bits = (value: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), value]));
const utf8 = (text: string) => tlv(0x0c, Buffer.from(text, "utf8"));
const bool = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0]));
const explicit = (n: number, content: Buffer) => tlv(0xa0 + n, content);
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const bytes = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}
const name = (cn: string) => seq(set(seq(oid("2.5.4.10"), utf8("digesta test"))), set(seq(oid("2.5.4.3"), utf8(cn))));
const extension = (id: string, value: Buffer, critical = false) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));

export const FULCIO_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1";
export const FULCIO_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8";

export interface Certificate {
  readonly der: Buffer;
  readonly pem: string;
  readonly key: KeyObject;
}

interface CertificateSpec {
  readonly subject: string;
  readonly issuer: { readonly name: string; readonly key: KeyObject };
  readonly publicKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly Buffer[];
}

function certificate(spec: CertificateSpec, privateKey: KeyObject): Certificate {
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(randomBytes(16).fill(0x11, 0, 1)),
    ECDSA_SHA256,
    name(spec.issuer.name),
    seq(time(spec.notBefore), time(spec.notAfter)),
    name(spec.subject),
    spec.publicKey.export({ type: "spki", format: "der" }),
    explicit(3, seq(...spec.extensions)),
  );
  const der = seq(tbs, ECDSA_SHA256, bits(sign("sha256", tbs, spec.issuer.key)));
  return { der, pem: toPem(der), key: privateKey };
}

const toPem = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END CERTIFICATE-----\n`;

// ---------------------------------------------------------------------------------------------------- the CA

export interface LeafSpec {
  /** The SAN (a URI, as Fulcio writes a workflow identity). */
  readonly identity: string;
  readonly issuer: string;
  /** Default: ten minutes from one minute before now, as Fulcio issues them. */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** The extended key usage (default code signing). */
  readonly extendedKeyUsage?: string;
}

export class TestCa {
  readonly root: Certificate;
  readonly name: string;
  private readonly key: KeyObject;

  constructor(name = "digesta test fulcio") {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    this.name = name;
    this.key = privateKey;
    const now = Date.now();
    this.root = certificate(
      {
        subject: name,
        issuer: { name, key: privateKey },
        publicKey,
        notBefore: new Date(now - 365 * 86_400_000),
        notAfter: new Date(now + 365 * 86_400_000),
        extensions: [
          extension("2.5.29.19", seq(bool(true)), true),
          extension("2.5.29.15", bits(Buffer.from([0x06])), true), // keyCertSign, cRLSign
        ],
      },
      privateKey,
    );
  }

  /** A code-signing certificate for `identity` from `issuer`, with Fulcio's issuer extensions (v1 and v2). */
  issue(spec: LeafSpec): Certificate {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const notBefore = spec.notBefore ?? new Date(Date.now() - 60_000);
    return certificate(
      {
        subject: "",
        issuer: { name: this.name, key: this.key },
        publicKey,
        notBefore,
        notAfter: spec.notAfter ?? new Date(notBefore.getTime() + 10 * 60_000),
        extensions: [
          extension("2.5.29.15", bits(Buffer.from([0x80])), true), // digitalSignature
          extension("2.5.29.37", seq(oid(spec.extendedKeyUsage ?? "1.3.6.1.5.5.7.3.3"))), // codeSigning
          extension("2.5.29.17", seq(tlv(0x86, Buffer.from(spec.identity))), true),
          extension(FULCIO_ISSUER_V1, Buffer.from(spec.issuer)),
          extension(FULCIO_ISSUER_V2, utf8(spec.issuer)),
        ],
      },
      privateKey,
    );
  }
}

// ---------------------------------------------------------------------------------------- the transparency log

const leafHash = (data: Buffer) => createHash("sha256").update(Buffer.from([0])).update(data).digest();
const nodeHash = (l: Buffer, r: Buffer) => createHash("sha256").update(Buffer.from([1])).update(l).update(r).digest();
/** The largest power of two smaller than n (RFC 6962 §2.1). */
const split = (n: number) => 2 ** Math.floor(Math.log2(n - 1));

function treeHash(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0]!;
  const k = split(leaves.length);
  return nodeHash(treeHash(leaves.slice(0, k)), treeHash(leaves.slice(k)));
}

/** The audit path of leaf `m` (RFC 6962 §2.1.1), lowest level first. */
function auditPath(m: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return m < k ? [...auditPath(m, leaves.slice(0, k)), treeHash(leaves.slice(k))] : [...auditPath(m - k, leaves.slice(k)), treeHash(leaves.slice(0, k))];
}

export interface TlogEntryOptions {
  /** The time the log says it integrated the entry (default now). */
  readonly integratedTime?: Date;
  /** Leave out the signed entry timestamp, the inclusion proof, or both. */
  readonly promise?: boolean;
  readonly proof?: boolean;
  /** Swap one hash of the inclusion proof for another. */
  readonly badProof?: boolean;
}

export class TestLog {
  readonly origin: string;
  readonly baseUrl: string;
  readonly key: KeyObject;
  readonly publicKey: KeyObject;
  readonly logId: Buffer;
  private readonly leaves: Buffer[] = [];

  constructor(origin = "rekor.digesta.test") {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    this.origin = origin;
    this.baseUrl = `https://${origin}`;
    this.key = privateKey;
    this.publicKey = publicKey;
    this.logId = createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest();
    // Other people's entries, so that proofs have some height.
    for (let i = 0; i < 5; i++) this.leaves.push(leafHash(randomBytes(32)));
  }

  /** Appends `body` (a canonical Rekor entry) and returns the bundle's transparency-log entry for it. */
  append(body: Buffer, kind: { kind: string; version: string }, options: TlogEntryOptions = {}): Record<string, unknown> {
    const index = this.leaves.length;
    this.leaves.push(leafHash(body));
    // One more entry after ours: the proof then has a right border to climb.
    this.leaves.push(leafHash(randomBytes(32)));
    const integratedTime = Math.floor((options.integratedTime ?? new Date()).getTime() / 1000);
    const size = this.leaves.length;
    const root = treeHash(this.leaves);
    const note = `${this.origin}\n${size}\n${root.toString("base64")}\n`;
    const noteSignature = Buffer.concat([this.logId.subarray(0, 4), sign("sha256", Buffer.from(note), this.key)]);
    const promise = canonicalJson.canonicalize({ body: body.toString("base64"), integratedTime, logIndex: index, logID: this.logId.toString("hex") });
    return {
      logIndex: String(index),
      logId: { keyId: this.logId.toString("base64") },
      kindVersion: kind,
      integratedTime: String(integratedTime),
      ...(options.promise === false ? {} : { inclusionPromise: { signedEntryTimestamp: sign("sha256", Buffer.from(promise), this.key).toString("base64") } }),
      ...(options.proof === false
        ? {}
        : {
            inclusionProof: {
              logIndex: String(index),
              rootHash: root.toString("base64"),
              treeSize: String(size),
              hashes: auditPath(index, this.leaves).map((h, i) => (options.badProof && i === 0 ? leafHash(h) : h).toString("base64")),
              checkpoint: { envelope: `${note}\n\u2014 ${this.origin} ${noteSignature.toString("base64")}\n` },
            },
          }),
      canonicalizedBody: body.toString("base64"),
    };
  }
}

// ---------------------------------------------------------------------------------------------- trusted root

/** A trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`) naming the CA and the log. */
export function trustedRoot(ca: TestCa, log: TestLog): Record<string, unknown> {
  const start = new Date(Date.now() - 365 * 86_400_000).toISOString();
  return {
    mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    tlogs: [
      {
        baseUrl: log.baseUrl,
        hashAlgorithm: "SHA2_256",
        publicKey: { rawBytes: log.publicKey.export({ type: "spki", format: "der" }).toString("base64"), keyDetails: "PKIX_ECDSA_P256_SHA_256", validFor: { start } },
        logId: { keyId: log.logId.toString("base64") },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: "digesta test", commonName: ca.name },
        uri: "https://fulcio.digesta.test",
        certChain: { certificates: [{ rawBytes: ca.root.der.toString("base64") }] },
        validFor: { start },
      },
    ],
    ctlogs: [],
    timestampAuthorities: [],
  };
}

// -------------------------------------------------------------------------------------------------- bundles

export const BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";
export const COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1";

const pae = (type: string, payload: Buffer) => Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);

export interface BundleSpec {
  /** The digest the statement names (default: the image's own). */
  readonly subject: Digest;
  readonly subjectName?: string;
  readonly certificate: Certificate;
  readonly log: TestLog;
  readonly tlog?: TlogEntryOptions | false;
  /** Change the statement after it was signed (and logged). */
  readonly tamper?: boolean;
}

/** The in-toto statement `cosign sign --new-bundle-format` signs: predicate cosign/sign/v1, the image digest its subject. */
function cosignSignStatement(spec: { readonly subject: string; readonly subjectName?: string | undefined }) {
  const statement = {
    _type: "https://in-toto.io/Statement/v1",
    subject: [{ name: spec.subjectName ?? "image", digest: { sha256: spec.subject.slice("sha256:".length) } }],
    predicateType: COSIGN_SIGN_PREDICATE,
    predicate: {},
  };
  return { statement, payload: Buffer.from(JSON.stringify(statement)), type: "application/vnd.in-toto+json" };
}

/**
 * A v0.3 bundle as `cosign sign --new-bundle-format` writes it: a DSSE envelope around an in-toto statement (predicate
 * https://sigstore.dev/cosign/sign/v1) whose subject is the image digest, signed with the certificate's key, logged as
 * a `dsse` entry.
 */
export function dsseBundle(spec: BundleSpec): Record<string, unknown> {
  const { statement, payload, type } = cosignSignStatement(spec);
  const signature = sign("sha256", pae(type, payload), spec.certificate.key);
  const body = Buffer.from(
    canonicalJson.canonicalize({
      apiVersion: "0.0.1",
      kind: "dsse",
      spec: {
        envelopeHash: { algorithm: "sha256", value: createHash("sha256").update(payload).digest("hex") },
        payloadHash: { algorithm: "sha256", value: createHash("sha256").update(payload).digest("hex") },
        signatures: [{ signature: signature.toString("base64"), verifier: Buffer.from(spec.certificate.pem).toString("base64") }],
      },
    }),
  );
  const shown = spec.tamper ? Buffer.from(JSON.stringify({ ...statement, predicate: { tampered: true } })) : payload;
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: {
      certificate: { rawBytes: spec.certificate.der.toString("base64") },
      tlogEntries: spec.tlog === false ? [] : [spec.log.append(body, { kind: "dsse", version: "0.0.1" }, spec.tlog ?? {})],
      timestampVerificationData: {},
    },
    dsseEnvelope: { payload: shown.toString("base64"), payloadType: type, signatures: [{ sig: signature.toString("base64"), keyid: "" }] },
  };
}

/** A keyless cosign `.sig` layer: simple-signing payload, signature, certificate and Rekor bundle annotations. */
export function cosignKeylessLayer(payload: string, certificate: Certificate, log: TestLog, options: TlogEntryOptions = {}) {
  const signature = sign("sha256", Buffer.from(payload), certificate.key);
  const body = Buffer.from(
    canonicalJson.canonicalize({
      apiVersion: "0.0.1",
      kind: "hashedrekord",
      spec: {
        data: { hash: { algorithm: "sha256", value: createHash("sha256").update(payload).digest("hex") } },
        signature: { content: signature.toString("base64"), publicKey: { content: Buffer.from(certificate.pem).toString("base64") } },
      },
    }),
  );
  const entry = log.append(body, { kind: "hashedrekord", version: "0.0.1" }, { ...options, proof: false }) as {
    integratedTime: string;
    logIndex: string;
    inclusionPromise: { signedEntryTimestamp: string };
  };
  return {
    signature: signature.toString("base64"),
    annotations: {
      "dev.sigstore.cosign/certificate": certificate.pem,
      "dev.sigstore.cosign/chain": "",
      "dev.sigstore.cosign/bundle": JSON.stringify({
        SignedEntryTimestamp: entry.inclusionPromise.signedEntryTimestamp,
        Payload: { body: body.toString("base64"), integratedTime: Number(entry.integratedTime), logIndex: Number(entry.logIndex), logID: log.logId.toString("hex") },
      }),
    },
  };
}


export interface KeyBundleSpec {
  /** The digest the statement names. */
  readonly subject: Digest;
  readonly subjectName?: string;
  /** The signing key and the hash its signatures are made with (null for Ed25519). */
  readonly key: { readonly privateKey: KeyObject; readonly hash: string | null };
  /** The public-key hint (cosign writes the key's SHA-256, base64); any text, since the verifier's key decides. */
  readonly hint?: string;
  /** A message signature over these bytes (the image manifest) instead of a DSSE envelope. */
  readonly manifest?: Buffer;
  /** A transparency-log entry, as cosign writes when it uploads to Rekor. */
  readonly log?: TestLog;
  /** Change the statement after it was signed. */
  readonly tamper?: boolean;
}

/**
 * A v0.3 bundle as `cosign sign --key … --new-bundle-format` writes it: public-key material (a hint, no certificate)
 * and a DSSE envelope around an in-toto statement naming the image; or a message signature over the manifest.
 */
export function keyBundle(spec: KeyBundleSpec): Record<string, unknown> {
  const hint = spec.hint ?? "key-hint";
  const verificationMaterial = (tlogEntries: unknown[]) => ({ publicKey: { hint }, tlogEntries, timestampVerificationData: {} });
  if (spec.manifest) {
    const signature = sign(spec.key.hash, spec.manifest, spec.key.privateKey);
    return {
      mediaType: BUNDLE_MEDIA_TYPE,
      verificationMaterial: verificationMaterial([]),
      messageSignature: { messageDigest: { algorithm: "SHA2_256", digest: createHash("sha256").update(spec.manifest).digest("base64") }, signature: signature.toString("base64") },
    };
  }
  const { statement, payload, type } = cosignSignStatement(spec);
  const signature = sign(spec.key.hash, pae(type, payload), spec.key.privateKey);
  const body = Buffer.from(canonicalJson.canonicalize({ apiVersion: "0.0.1", kind: "dsse", spec: { payloadHash: { algorithm: "sha256", value: createHash("sha256").update(payload).digest("hex") } } }));
  const shown = spec.tamper ? Buffer.from(JSON.stringify({ ...statement, predicate: { tampered: true } })) : payload;
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: verificationMaterial(spec.log ? [spec.log.append(body, { kind: "dsse", version: "0.0.1" })] : []),
    dsseEnvelope: { payload: shown.toString("base64"), payloadType: type, signatures: [{ sig: signature.toString("base64"), keyid: "" }] },
  };
}

/**
 * A keyless v0.3 bundle with a message signature over `artifact` (the image manifest), logged as a `hashedrekord` entry:
 * as `cosign sign --new-bundle-format` wrote them before it moved to DSSE, and as sigstore-js signs a blob.
 */
export function messageBundle(spec: { readonly artifact: Buffer; readonly certificate: Certificate; readonly log: TestLog }): Record<string, unknown> {
  const signature = sign("sha256", spec.artifact, spec.certificate.key);
  const hash = createHash("sha256").update(spec.artifact);
  const hex = hash.copy().digest("hex");
  const body = Buffer.from(
    canonicalJson.canonicalize({
      apiVersion: "0.0.1",
      kind: "hashedrekord",
      spec: {
        data: { hash: { algorithm: "sha256", value: hex } },
        signature: { content: signature.toString("base64"), publicKey: { content: Buffer.from(spec.certificate.pem).toString("base64") } },
      },
    }),
  );
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: {
      certificate: { rawBytes: spec.certificate.der.toString("base64") },
      tlogEntries: [spec.log.append(body, { kind: "hashedrekord", version: "0.0.1" })],
      timestampVerificationData: {},
    },
    messageSignature: { messageDigest: { algorithm: "SHA2_256", digest: Buffer.from(hex, "hex").toString("base64") }, signature: signature.toString("base64") },
  };
}

/**
 * Pushes `bundles` as Sigstore-bundle referrers of `subject` in `repository`, as cosign's `--new-bundle-format` does,
 * and lists them in its referrers tag index (pushed even when empty).
 */
export async function attachBundles(
  reg: TestRegistry,
  repository: string,
  subject: { readonly digest: Digest; readonly size: number; readonly mediaType: string },
  bundles: readonly Record<string, unknown>[],
): Promise<void> {
  const descriptors = [];
  for (const bundle of bundles) {
    const pushed = await pushReferrer(reg, repository, {
      subject: { digest: subject.digest, size: subject.size, mediaType: subject.mediaType },
      artifactType: BUNDLE_MEDIA_TYPE,
      blobs: [{ mediaType: BUNDLE_MEDIA_TYPE, data: JSON.stringify(bundle) }],
      annotations: { "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1" },
    });
    descriptors.push(pushed.descriptor);
  }
  await pushReferrersTagIndex(reg, repository, subject.digest, descriptors);
}
