import type { Digest, ImageName, Platform } from "../reference/types.js";
import { formatPlatform } from "../reference/format.js";
import { isIndexMediaType, parseImageManifest, parseIndex, samePlatform, type ImageManifest } from "../registry/manifest.js";
import type { Descriptor, FetchedManifest, Registry } from "../registry/types.js";

export const DEFAULT_PLATFORM: Platform = { os: "linux", architecture: "amd64" };

export interface ImageIndex {
  readonly manifests: readonly Descriptor[];
}

export function isIndex(fetched: Pick<FetchedManifest, "mediaType" | "json">): boolean {
  return isIndexMediaType(fetched.mediaType) || (Array.isArray(fetched.json["manifests"]) && !("layers" in fetched.json));
}

/**
 * The index entry for `wanted` (arm64 without a variant is arm64/v8, as containerd has it).
 * `unknown/unknown` entries and BuildKit attestation manifests never match.
 */
export function selectPlatform(index: ImageIndex, wanted: Platform): Descriptor | undefined {
  return index.manifests.find(
    (d) =>
      d.platform !== undefined &&
      d.platform.os !== "unknown" &&
      d.annotations?.["vnd.docker.reference.type"] !== "attestation-manifest" &&
      samePlatform(d.platform, wanted),
  );
}

/** One side of a diff, down to the image of one platform. */
export interface PlatformImage {
  /** The digest of the image manifest compared: the pin itself, or its entry in the index for the platform. */
  readonly digest: Digest;
  readonly manifest: ImageManifest;
  /** The index the pin points to, when it is one (BuildKit keeps attestation manifests there). */
  readonly index?: ImageIndex;
}

/** The pin's manifest: an index or an image manifest, parsed. */
export type PinnedManifest =
  | { readonly kind: "index"; readonly digest: Digest; readonly index: ImageIndex }
  | { readonly kind: "image"; readonly digest: Digest; readonly manifest: ImageManifest };

/** Fetches and parses what a digest pins. Throws RegistryError. */
export async function fetchPinned(registry: Registry, name: ImageName, digest: Digest): Promise<PinnedManifest> {
  const fetched = await registry.getManifest(name, digest);
  if (isIndex(fetched)) return { kind: "index", digest, index: { manifests: parseIndex(fetched.json, `index ${digest}`) } };
  return { kind: "image", digest, manifest: parseImageManifest(fetched.json, `manifest ${digest}`) };
}

/** There is no image for the platform wanted in the index; the message lists those there are. */
export class PlatformNotFoundError extends Error {
  override readonly name = "PlatformNotFoundError";
}

/** The image of `platform` the pin stands for. Throws RegistryError, or PlatformNotFoundError. */
export async function resolvePlatformImage(registry: Registry, name: ImageName, pinned: PinnedManifest, platform: Platform): Promise<PlatformImage> {
  if (pinned.kind === "image") return { digest: pinned.digest, manifest: pinned.manifest };
  const entry = selectPlatform(pinned.index, platform);
  if (!entry) {
    const offered = pinned.index.manifests
      .filter((d) => d.platform && d.platform.os !== "unknown")
      .map((d) => formatPlatform(d.platform!))
      .join(", ");
    throw new PlatformNotFoundError(`the index has no ${formatPlatform(platform)} image${offered ? ` (it has ${offered})` : ""}`);
  }
  const fetched = await registry.getManifest(name, entry.digest);
  if (isIndex(fetched)) throw new PlatformNotFoundError(`the ${formatPlatform(platform)} entry of the index is itself an index`);
  return { digest: entry.digest, manifest: parseImageManifest(fetched.json, `manifest ${entry.digest}`), index: pinned.index };
}
