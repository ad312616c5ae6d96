import type { ImageDiff } from "../diff/types.js";
import type { ImageDiffer } from "../engine/package-diffs.js";
import { formatPlatform, imageKey, tagKey } from "../reference/format.js";
import type { Digest, ImageName, Platform } from "../reference/types.js";
import { RegistryError } from "../registry/errors.js";
import type { Descriptor, FetchedManifest, Registry, TagHistoryEntry } from "../registry/types.js";
import type { Codec, SharedCache } from "./shared-cache.js";

export interface SharedRegistryOptions {
  readonly cache: SharedCache;
  /**
   * The batch (a sweep, an installation) whose runs share what tags point to. Without one, tags are asked every
   * time: a run on its own (a push, a registry event) must see the tag as it is now.
   */
  readonly batch?: string;
  /** How long a batch's tag answers are kept. Default 1 hour (a sweep's length, bounded). */
  readonly tagTtlMs?: number;
  /** How long what a digest names is kept (it never changes; the bound is for memory). Default 24 hours. */
  readonly digestTtlMs?: number;
}

/** Blobs up to this size (configs, small SBOM parts) are shared; layers never. */
const MAX_SHARED_BLOB = 1024 * 1024;

/** Failures a batch shares, as one process remembers them for its run: the registry's answer, rebuilt. */
const registryErrors = {
  keepError: (error: unknown) =>
    error instanceof RegistryError ? JSON.stringify({ code: error.code, message: error.message, status: error.status }) : undefined,
  revive: (text: string) => {
    const { code, message, status } = JSON.parse(text) as { code: RegistryError["code"]; message: string; status?: number };
    return new RegistryError(code, message, status);
  },
};

const manifestCodec: Codec<FetchedManifest> = {
  encode: (m) => JSON.stringify({ digest: m.digest, mediaType: m.mediaType, bytes: Buffer.from(m.bytes).toString("base64") }),
  decode: (text) => {
    const { digest, mediaType, bytes } = JSON.parse(text) as { digest: Digest; mediaType: string; bytes: string };
    const raw = new Uint8Array(Buffer.from(bytes, "base64"));
    return { digest, mediaType, bytes: raw, json: JSON.parse(Buffer.from(raw).toString("utf8")) as Record<string, unknown> };
  },
};

const historyCodec: Codec<TagHistoryEntry[]> = {
  encode: (entries) => JSON.stringify(entries.map((e) => ({ t: e.updateTimestamp.toISOString(), d: e.digest }))),
  decode: (text) => (JSON.parse(text) as { t: string; d: Digest }[]).map((e) => ({ updateTimestamp: new Date(e.t), digest: e.d })),
  ...registryErrors,
};

const blobCodec: Codec<Uint8Array> = {
  encode: (bytes) => Buffer.from(bytes).toString("base64"),
  decode: (text) => new Uint8Array(Buffer.from(text, "base64")),
};

const isDigest = (reference: string): boolean => reference.includes(":");

/**
 * A registry whose answers are shared through the cache: what a tag points to, once per batch (across the fleet on
 * Redis); manifests and small blobs by digest, which never change. Streams of layers and referrers go straight to
 * the registry.
 */
export function shareRegistry(registry: Registry, options: SharedRegistryOptions): Registry {
  const { cache, batch } = options;
  const tagTtl = options.tagTtlMs ?? 3_600_000;
  const digestTtl = options.digestTtlMs ?? 24 * 3_600_000;
  return {
    headManifest(name, reference) {
      if (isDigest(reference) || !batch) return registry.headManifest(name, reference);
      return cache.once<Descriptor>(`head:${batch}:${tagKey(name, reference)}`, tagTtl, () => registry.headManifest(name, reference), {
        encode: (d) => JSON.stringify(d),
        decode: (text) => JSON.parse(text) as Descriptor,
        ...registryErrors,
      });
    },
    getManifest(name, reference) {
      if (isDigest(reference)) {
        return cache.once(`manifest:${imageKey(name)}@${reference}`, digestTtl, () => registry.getManifest(name, reference), manifestCodec);
      }
      if (!batch) return registry.getManifest(name, reference);
      return cache.once(`tag:${batch}:${tagKey(name, reference)}`, tagTtl, () => registry.getManifest(name, reference), {
        ...manifestCodec,
        ...registryErrors,
      });
    },
    async getBlob(name, digest, maxBytes) {
      if (maxBytes === undefined || maxBytes > MAX_SHARED_BLOB) return registry.getBlob(name, digest, maxBytes);
      const bytes = await cache.once(`blob:${imageKey(name)}@${digest}`, digestTtl, () => registry.getBlob(name, digest, maxBytes), blobCodec);
      return bytes;
    },
    openBlob: (name, digest) => registry.openBlob(name, digest),
    referrers: (name, digest, artifactType) => registry.referrers(name, digest, artifactType),
    tagHistory(name, tag) {
      if (!batch) return registry.tagHistory(name, tag);
      return cache.once(`history:${batch}:${tagKey(name, tag)}`, tagTtl, () => registry.tagHistory(name, tag), historyCodec);
    },
  };
}

/** Package diffs are kept a week (digests never change; the bound is for memory); those with warnings, an hour. */
const DIFF_MS = 7 * 24 * 3_600_000;
const DIFF_WITH_WARNINGS_MS = 3_600_000;

/** A differ whose diffs are shared through the cache by image, digest pair and platform. */
export function shareDiffs(differ: ImageDiffer, cache: SharedCache): ImageDiffer {
  return (image, tag, from, to, platform) =>
    cache.once(
      diffKey(image, tag, from, to, platform),
      (found: ImageDiff) => (found.warnings.length > 0 ? DIFF_WITH_WARNINGS_MS : DIFF_MS),
      () => differ(image, tag, from, to, platform),
    );
}

/** The cache key of a package diff: the image (and the tag its text names), both digests and the platform. */
export function diffKey(image: ImageName, tag: string, from: Digest, to: Digest, platform: Platform): string {
  return `diff:${tagKey(image, tag)}@${from}..${to}/${formatPlatform(platform)}`;
}

/** The cache key of an image's build time on a platform. */
export function builtKey(image: ImageName, digest: Digest, platform: Platform): string {
  return `built:${imageKey(image)}@${digest}/${formatPlatform(platform)}`;
}
