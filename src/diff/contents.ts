import { formatPlatform } from "../reference/format.js";
import type { Digest, ImageName, Platform } from "../reference/types.js";
import type { Registry } from "../registry/types.js";
import type { PackageListCache } from "./cache.js";
import { findSbom } from "./attestations/find-sbom.js";
import { readPackageDatabase } from "./layers/package-database.js";
import { reasonOf } from "./layers/messages.js";
import { DEFAULT_PLATFORM, fetchPinned, resolvePlatformImage } from "./platform.js";
import type { PackageList } from "./types.js";

/** What one image holds, as its SBOM or package database lists it: shown where there is nothing to compare it with. */
export interface ImageContents {
  /** The platform read, when the digest is a multi-platform index. */
  readonly platform?: Platform;
  /** The packages, when a package database digesta reads was found and read. */
  readonly packages?: PackageList;
  /** Why the packages are missing or incomplete. */
  readonly warnings: readonly string[];
}

/** Reads the package contents of `image@digest`, for `platform` when the digest is an index. */
export type ImageContentsReader = (image: ImageName, digest: Digest, platform: Platform) => Promise<ImageContents>;

/**
 * The packages of one image (the image of `platform` in an index): from its SBOM attestation where it has one
 * (BuildKit, OCI referrers, cosign `.att`, as the package diff reads them), else from the package database in its
 * layers, read from the top layer down and stopping at the first that has one. Never throws: a problem becomes a warning.
 */
export async function readImageContents(
  registry: Registry,
  name: ImageName,
  digest: Digest,
  options: { readonly platform?: Platform; readonly cache?: PackageListCache } = {},
): Promise<ImageContents> {
  const platform = options.platform ?? DEFAULT_PLATFORM;
  try {
    const pinned = await fetchPinned(registry, name, digest);
    const image = await resolvePlatformImage(registry, name, pinned, platform);
    const read = options.cache ? { cache: options.cache } : {};
    const shown = pinned.kind === "index" ? { platform } : {};
    // An SBOM first, as for the package diffs: an image may ship one and no package database (distroless, static).
    const sbom = await findSbom(registry, name, image, read);
    if (sbom.list) return { ...shown, packages: sbom.list, warnings: [...sbom.warnings] };
    const found = await readPackageDatabase(registry, name, image.manifest.layers, read);
    const warnings = [...sbom.warnings, ...(found.list || sbom.found ? [] : ["no SBOM attestation (BuildKit, OCI referrers or cosign)"]), ...found.warnings];
    if (!found.list && found.warnings.length === 0) warnings.push("no package database digesta reads (apk, dpkg, rpm) in the image");
    return { ...shown, ...(found.list ? { packages: found.list } : {}), warnings };
  } catch (error) {
    return { warnings: [`could not read the ${formatPlatform(platform)} image: ${reasonOf(error)}`] };
  }
}
