// Small builders for registry unit tests: manifests, indexes and configs with their real digests, and a
// client with tiny retry delays and no credentials from the developer's machine.
import { createHash } from "node:crypto";
import { expect } from "vitest";
import type { Digest, ImageName, Platform } from "../../src/reference/types.js";
import { createRegistryClient, type RegistryClient, type RegistryClientOptions } from "../../src/registry/client.js";
import { anonymousCredentials } from "../../src/registry/credentials.js";
import { RegistryError } from "../../src/registry/errors.js";
import { MediaType } from "../../src/registry/types.js";

export const HOST = "registry.example.test";
export const ORIGIN = `https://${HOST}`;
export const APP: ImageName = { registry: HOST, repository: "team/app" };

export function sha256(body: string | Uint8Array): Digest {
  return `sha256:${createHash("sha256").update(body).digest("hex")}` as Digest;
}

export interface Blob {
  readonly body: string;
  readonly digest: Digest;
  readonly size: number;
}

function blob(value: unknown): Blob {
  const body = JSON.stringify(value);
  return { body, digest: sha256(body), size: Buffer.byteLength(body) };
}

export interface Image {
  readonly config: Blob;
  readonly manifest: Blob;
  readonly platform: Platform;
}

/** An OCI image manifest and its config for `platform`; `generation` makes a different build. */
export function image(platform: Platform, generation = 1): Image {
  const config = blob({ ...platform, rootfs: { type: "layers", diff_ids: [] }, config: { Labels: { generation: String(generation) } } });
  const manifest = blob({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
    layers: [],
  });
  return { config, manifest, platform };
}

/** An OCI index over `images`. */
export function index(images: readonly Image[]): Blob {
  return blob({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: images.map((i) => ({ mediaType: MediaType.OciManifest, digest: i.manifest.digest, size: i.manifest.size, platform: i.platform })),
  });
}

export const AMD64: Platform = { os: "linux", architecture: "amd64" };
export const ARM64: Platform = { os: "linux", architecture: "arm64" };
export const ARMV7: Platform = { os: "linux", architecture: "arm", variant: "v7" };

/** A client with millisecond backoff, no credentials unless given, and no environment. */
export function testClient(options: RegistryClientOptions = {}): RegistryClient {
  return createRegistryClient({
    credentials: anonymousCredentials,
    env: {},
    retries: 2,
    backoff: { baseMs: 1, maxMs: 4, retryAfterCapMs: 20 },
    ...options,
  });
}

/** The RegistryError a promise rejects with; fails the test if it resolves or throws anything else. */
export async function registryError(promise: Promise<unknown>): Promise<RegistryError> {
  const outcome = await promise.then(
    (value: unknown) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a RegistryError, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(RegistryError);
  const error = outcome.error as RegistryError;
  expect(error.message).not.toMatch(/\n/);
  return error;
}

export const manifestHeaders = (b: Blob, mediaType: string = MediaType.OciManifest): Record<string, string> => ({
  "content-type": mediaType,
  "docker-content-digest": b.digest,
  "content-length": String(b.size),
});

/** What a socket emits when a connection fails: an Error with a code (nock passes a plain object on to fetch, but node:http only emits Errors). */
export function networkError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}
