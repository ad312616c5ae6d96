import type { Logger } from "../logging/logger.js";
import { formatPlatform, imageKey } from "../reference/format.js";
import type { Digest, ImageName, Platform } from "../reference/types.js";
import type { Registry } from "../registry/types.js";
import { findSbomPair } from "./attestations/find-sbom.js";
import { createPackageListCache, type PackageListCache } from "./cache.js";
import { diffPackageLists } from "./compare.js";
import { readPackageDatabase, type PackageDatabaseResult } from "./layers/package-database.js";
import { reasonOf, shortDigest } from "./layers/messages.js";
import { readImagePlatform } from "../registry/image-config.js";
import { DEFAULT_PLATFORM, fetchPinned, resolvePlatformImage, type PinnedManifest, type PlatformImage } from "./platform.js";
import type { ImageDiff, ImageDiffSource, PackageList } from "./types.js";

export interface DiffImagesOptions {
  /** The platform compared when the pins are indexes. Default linux/amd64. */
  readonly platform?: Platform;
  /** Shared across diffs to read each layer and SBOM once; each call makes its own otherwise. */
  readonly cache?: PackageListCache;
  readonly logger?: Pick<Logger, "debug">;
  readonly signal?: AbortSignal;
  /** The tag the pins follow, carried into the result. */
  readonly tag?: string;
  /** Largest SBOM blob downloaded. Default 64 MiB. */
  readonly maxSbomBytes?: number;
  /** Largest package database file held in memory. Default 64 MiB. */
  readonly maxDatabaseBytes?: number;
}

type Role = "old" | "new";

/**
 * What changed in the packages of an image moving from `from` to `to`: from SBOM attestations when both images have
 * them (same origin, same format), else from the package databases in their layers.
 * Never throws for registry or parse problems: they become `warnings`, beside whatever could be computed.
 * Throws only when `signal` aborts.
 */
export async function diffImages(
  registry: Registry,
  name: ImageName,
  from: Digest,
  to: Digest,
  options: DiffImagesOptions = {},
): Promise<ImageDiff> {
  const base = {
    image: imageKey(name),
    ...(options.tag !== undefined && { tag: options.tag }),
    from,
    to,
  };
  const empty = { added: [], removed: [], changed: [] };
  const none = { previous: "none", current: "none" } as const;
  if (from === to) return { ...base, packages: empty, warnings: [], unchanged: "same-digest" };

  const warnings: string[] = [];
  const log = options.logger;
  const cache = options.cache ?? createPackageListCache();
  const signal = options.signal;
  const guard = async <T>(what: () => Promise<T>, describe: (reason: string) => string): Promise<T | undefined> => {
    try {
      return await what();
    } catch (error) {
      signal?.throwIfAborted();
      warnings.push(describe(reasonOf(error)));
      return undefined;
    }
  };
  const unreadable = new Set<Role>();
  const cannotRead = (role: Role, digest: Digest) => (reason: string) => {
    unreadable.add(role);
    return `could not read the ${role} image ${shortDigest(digest)} on ${name.registry}: ${reason}`;
  };
  // The sides that could not be read, in a fixed order, on every answer that has any.
  const marked = (diff: ImageDiff): ImageDiff => {
    const sides = (["old", "new"] as const).filter((role) => unreadable.has(role));
    return sides.length > 0 ? { ...diff, unreadable: sides } : diff;
  };

  // 1. Both pins, down to the image of one platform.
  const [fromPinned, toPinned] = await Promise.all([
    guard(() => fetchPinned(registry, name, from), cannotRead("old", from)),
    guard(() => fetchPinned(registry, name, to), cannotRead("new", to)),
  ]);
  if (!fromPinned || !toPinned) return marked({ ...base, packages: empty, warnings, source: none, packagesUnknown: true });
  const platform = await choosePlatform(registry, name, fromPinned, toPinned, options.platform ?? DEFAULT_PLATFORM, warnings);
  const [previous, current] = await Promise.all([
    guard(() => resolvePlatformImage(registry, name, fromPinned, platform), cannotRead("old", from)),
    guard(() => resolvePlatformImage(registry, name, toPinned, platform), cannotRead("new", to)),
  ]);
  const withPlatform = fromPinned.kind === "index" || toPinned.kind === "index" ? { ...base, platform } : base;
  if (!previous || !current) return marked({ ...withPlatform, packages: empty, warnings, source: none, packagesUnknown: true });
  if (previous.digest === current.digest) return { ...withPlatform, packages: empty, warnings, unchanged: "same-digest" };
  if (sameLayers(previous, current)) return { ...withPlatform, packages: empty, warnings, unchanged: "same-layers" };
  log?.debug({ image: base.image, platform: formatPlatform(platform), previous: previous.digest, current: current.digest }, "diffing images");

  // 2. SBOM attestations, when both images have one of the same kind.
  const sboms = await findSbomPair(registry, name, previous, current, {
    cache,
    ...(options.maxSbomBytes !== undefined && { maxBytes: options.maxSbomBytes }),
    ...(signal && { signal }),
  });
  warnings.push(...sboms.warnings);
  if (sboms.pair) {
    log?.debug({ origin: sboms.pair.origin }, "package lists from SBOM attestations");
    return compare(withPlatform, sboms.pair.previous, sboms.pair.current, warnings);
  }
  if (sboms.found.previous !== sboms.found.current) {
    const missing: Role = sboms.found.previous ? "new" : "old";
    warnings.push(`no usable SBOM for the ${missing} image; compared the package databases of both instead`);
  } else if (sboms.found.previous) {
    warnings.push("the two images have no usable SBOMs of the same kind; compared their package databases instead");
  }

  // 3. The package databases in the layers; the new image first, so that layers both share come from the cache.
  const dbOptions = { cache, ...(signal && { signal }), ...(options.maxDatabaseBytes !== undefined && { maxFileBytes: options.maxDatabaseBytes }) };
  const currentDb = await readPackageDatabase(registry, name, current.manifest.layers, dbOptions);
  const previousDb = await readPackageDatabase(registry, name, previous.manifest.layers, dbOptions);
  log?.debug(
    { layersDownloaded: currentDb.layersDownloaded + previousDb.layersDownloaded, bytesRead: currentDb.bytesRead + previousDb.bytesRead },
    "package databases read",
  );
  pushSideWarnings(warnings, "old", previous.digest, previousDb);
  pushSideWarnings(warnings, "new", current.digest, currentDb);
  if (previousDb.unreadable) unreadable.add("old");
  if (currentDb.unreadable) unreadable.add("new");
  const source = { previous: previousDb.source, current: currentDb.source };
  const unknown = { ...withPlatform, packages: empty, source, packagesUnknown: true } as const;
  if (!previousDb.list || !currentDb.list) return marked({ ...unknown, warnings: dedupe(warnings) });
  if (previousDb.list.source !== currentDb.list.source) {
    warnings.push(`the old image lists its packages with ${previousDb.list.source} and the new one with ${currentDb.list.source}; package changes not shown`);
    return { ...unknown, warnings: dedupe(warnings) };
  }
  return compare(withPlatform, previousDb.list, currentDb.list, warnings);
}

function compare(
  base: Omit<ImageDiff, "packages" | "warnings">,
  previous: PackageList,
  current: PackageList,
  warnings: string[],
): ImageDiff {
  const diff = diffPackageLists(previous, current);
  return {
    ...base,
    packages: diff.packages,
    warnings: dedupe([...warnings, ...diff.warnings]),
    source: { previous: previous.source satisfies ImageDiffSource, current: current.source },
  };
}

function pushSideWarnings(warnings: string[], role: Role, digest: Digest, result: PackageDatabaseResult): void {
  for (const w of result.warnings) warnings.push(`${role} image ${shortDigest(digest)}: ${w}`);
}

function sameLayers(a: PlatformImage, b: PlatformImage): boolean {
  const x = a.manifest.layers;
  const y = b.manifest.layers;
  return x.length === y.length && x.every((layer, i) => layer.digest === y[i]!.digest);
}

/**
 * The platform compared. When one pin is a platform image and the other an index, the platform image's own
 * platform (from its config) picks the entry of the index; otherwise the configured one.
 */
async function choosePlatform(
  registry: Registry,
  name: ImageName,
  from: PinnedManifest,
  to: PinnedManifest,
  configured: Platform,
  warnings: string[],
): Promise<Platform> {
  if (from.kind === to.kind) return configured;
  const single = from.kind === "image" ? from : to.kind === "image" ? to : undefined;
  if (!single) return configured;
  try {
    return (await readImagePlatform(registry, name, single.manifest.config.digest)) ?? configured;
  } catch (error) {
    warnings.push(`could not read the platform of ${shortDigest(single.digest)} (${reasonOf(error)}); comparing ${formatPlatform(configured)}`);
    return configured;
  }
}

function dedupe(lines: readonly string[]): string[] {
  return [...new Set(lines)];
}
