import type { Digest } from "../reference/types.js";

/** What checking an image's signatures concluded. */
export type Verdict =
  | {
      readonly status: "verified";
      /** Who signed: `key SHA256:<fingerprint>`. */
      readonly by: string;
      /** The repository the signer named (`critical.identity.docker-reference`): shown, not enforced, as cosign does. */
      readonly dockerReference?: string;
    }
  /** No signature at all where signatures are kept. */
  | { readonly status: "not-signed"; readonly reason: string }
  /** Signatures exist, and none verifies with the key for this digest. */
  | { readonly status: "invalid"; readonly reason: string };

/** One cosign signature: a simple-signing payload and its base64 signature, from one layer of the `.sig` manifest. */
export interface CosignSignature {
  readonly payload: Uint8Array;
  readonly signature: string;
}

/** The parts of a simple-signing payload digesta reads. */
export interface SimpleSigningPayload {
  readonly manifestDigest: Digest;
  readonly dockerReference?: string;
}
