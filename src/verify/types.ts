import type { Digest } from "../reference/types.js";

/** What checking an image's signatures concluded. */
export type Verdict =
  | {
      readonly status: "verified";
      /** Who signed: `key SHA256:<fingerprint>`, or `identity … (issuer …)` for a keyless signature. */
      readonly by: string;
      /** The repository the signer named (`critical.identity.docker-reference`): shown, not enforced, as cosign does. */
      readonly dockerReference?: string;
    }
  /** No signature at all where signatures are kept. */
  | { readonly status: "not-signed"; readonly reason: string }
  /** Signatures exist, and none verifies with the key for this digest. */
  | { readonly status: "invalid"; readonly reason: string }
  /** The registry or the trust material could not be read: nothing is known either way. */
  | { readonly status: "error"; readonly reason: string };

/** The words a person reads for each status. */
export const VERDICT_WORDS: Record<Verdict["status"], string> = {
  verified: "verified",
  "not-signed": "not signed",
  invalid: "signature invalid",
  error: "could not check",
};

/** One line: `verified by key SHA256:… (signed as repo)`, `not signed: no cosign signature`. */
export function describeVerdict(verdict: Verdict): string {
  if (verdict.status === "verified") return `verified by ${verdict.by}${verdict.dockerReference ? ` (signed as ${verdict.dockerReference})` : ""}`;
  return `${VERDICT_WORDS[verdict.status]}: ${verdict.reason}`;
}

/** One cosign signature: a simple-signing payload and its base64 signature, from one layer of the `.sig` manifest. */
export interface CosignSignature {
  readonly payload: Uint8Array;
  readonly signature: string;
  /** Keyless signatures: the signing certificate, its chain (PEM) and Rekor's signed entry (`dev.sigstore.cosign/*`). */
  readonly certificate?: string;
  readonly chain?: string;
  readonly rekorBundle?: string;
}

/** The parts of a simple-signing payload digesta reads. */
export interface SimpleSigningPayload {
  readonly manifestDigest: Digest;
  readonly dockerReference?: string;
}

/** A Sigstore bundle found for an image (among its referrers, or made from a cosign `.sig` layer), still unverified. */
export interface BundleCandidate {
  /** Where it was found, for the verdict: `bundle sha256:…`, `cosign signature 2`. */
  readonly where: string;
  /** The bundle's JSON, unread (undefined when it was not JSON). */
  readonly bundle: unknown;
  /** The signed bytes of a message signature (the image manifest, or a cosign simple-signing payload). */
  readonly artifact?: Uint8Array;
  /** For a cosign `.sig` layer: its simple-signing payload names the digest. */
  readonly simpleSigning?: boolean;
}

/** The verdict when `count` signatures were found and none verified, each problem said once. */
export function noneValid(count: number, problems: Iterable<string>): Verdict {
  return { status: "invalid", reason: `${count} signature(s), none valid: ${[...new Set(problems)].join("; ")}` };
}
