// cosign `.sig` signatures made with the test's own keys, pushed to the real test registry as cosign stores them.
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { Digest } from "../../src/reference/types.js";
import { MediaType } from "../../src/registry/types.js";
import { COSIGN_SIGNATURE_ANNOTATION, cosignSignatureTag } from "../../src/verify/cosign.js";
import { pushBlob, pushManifest } from "./images.js";
import type { TestRegistry } from "./registry-server.js";

export const SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";

export interface TestKey {
  /** The public key's PEM file. */
  readonly file: string;
  readonly pem: string;
  readonly privateKey: KeyObject;
  readonly hash: string | null;
}

/** A key pair as `cosign generate-key-pair` makes one; the public half written to `dir/name.pub`. */
export async function keyPair(dir: string, name: string, type: "ec" | "rsa" | "ed25519", curve = "prime256v1"): Promise<TestKey> {
  const pair =
    type === "ec"
      ? generateKeyPairSync("ec", { namedCurve: curve })
      : type === "rsa"
        ? generateKeyPairSync("rsa", { modulusLength: 2048 })
        : generateKeyPairSync("ed25519");
  const file = path.join(dir, `${name}.pub`);
  const pem = pair.publicKey.export({ type: "spki", format: "pem" }) as string;
  await writeFile(file, pem);
  const hash = type === "ed25519" ? null : type === "ec" && curve === "secp384r1" ? "sha384" : "sha256";
  return { file, pem, privateKey: pair.privateKey, hash };
}

/** cosign's simple-signing payload for `digest`, signed as `reference`. */
export function simpleSigningPayload(digest: Digest, reference: string): string {
  return JSON.stringify({
    critical: { identity: { "docker-reference": reference }, image: { "docker-manifest-digest": digest }, type: "cosign container image signature" },
    optional: null,
  });
}

/**
 * Signs `signed` (default: `digest` itself) with each key, as cosign stores it: one layer per signature under
 * `sha256-<hex>.sig`. `tamper` changes the payload after signing.
 */
export async function signWithKeys(
  reg: TestRegistry,
  repository: string,
  digest: Digest,
  signers: readonly TestKey[],
  options: { signed?: Digest; tamper?: boolean } = {},
): Promise<void> {
  const config = await pushBlob(reg, repository, "{}");
  const layers = [];
  for (const signer of signers) {
    const body = simpleSigningPayload(options.signed ?? digest, `${reg.host}/${repository}`);
    const signature = sign(signer.hash, Buffer.from(body), signer.privateKey).toString("base64");
    const blob = await pushBlob(reg, repository, options.tamper ? body.replace("cosign", "c0sign") : body);
    layers.push({ mediaType: SIMPLE_SIGNING, digest: blob.digest, size: blob.size, annotations: { [COSIGN_SIGNATURE_ANNOTATION]: signature } });
  }
  await pushManifest(
    reg,
    repository,
    { schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size }, layers },
    MediaType.OciManifest,
    cosignSignatureTag(digest),
  );
}
