import type { ImageName } from "../../reference/types.js";
import type { Registry } from "../../registry/types.js";
import type { PackageListCache } from "../cache.js";
import { reasonOf, shortDigest } from "../layers/messages.js";
import type { PackageList } from "../types.js";
import type { SbomSource } from "../parse/sbom.js";
import { SBOM_ORIGINS, type SbomCandidate, type SbomOrigin } from "./candidates.js";
import { discoverSboms, type SbomSubject } from "./discover.js";
import { readSbom } from "./read-sbom.js";

export interface SbomPair {
  readonly previous: PackageList;
  readonly current: PackageList;
  readonly origin: SbomOrigin;
}

export interface SbomSearch {
  /** SBOMs of the same origin and format for both images, when there are. */
  readonly pair?: SbomPair;
  readonly warnings: readonly string[];
  /** Whether any SBOM was found for each side, used or not. */
  readonly found: { readonly previous: boolean; readonly current: boolean };
}

export interface FindSbomOptions {
  readonly cache?: PackageListCache;
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
}

const SOURCES: readonly SbomSource[] = ["sbom-spdx", "sbom-cyclonedx"];

/**
 * SBOMs for both images from the same origin and in the same format, looking at BuildKit attestation manifests,
 * then OCI referrers, then cosign `.att` tags, and downloading only the two SBOM blobs used. Comparing an SBOM
 * with a package database would report every package the SBOM alone lists as added, so a pair or nothing.
 * Never throws for registry or format problems: they become warnings.
 */
export async function findSbomPair(
  registry: Registry,
  name: ImageName,
  previous: SbomSubject,
  current: SbomSubject,
  options: FindSbomOptions = {},
): Promise<SbomSearch> {
  const warnings: string[] = [];
  const found = { previous: false, current: false };
  const discover = (subject: SbomSubject, origin: SbomOrigin) => discoverOrWarn(registry, name, subject, origin, warnings);
  const readOptions = readOptionsOf(options);

  for (const origin of SBOM_ORIGINS) {
    options.signal?.throwIfAborted();
    const [prev, cur] = await Promise.all([discover(previous, origin), discover(current, origin)]);
    found.previous ||= prev.length > 0;
    found.current ||= cur.length > 0;
    for (const source of SOURCES) {
      const p = prev.find((c) => c.source === source);
      const c = cur.find((c) => c.source === source);
      if (!p || !c) continue;
      const [pl, cl] = await Promise.allSettled([
        readSbom(registry, name, p, previous.digest, readOptions),
        readSbom(registry, name, c, current.digest, readOptions),
      ]);
      if (pl.status === "fulfilled" && cl.status === "fulfilled") return { pair: { previous: pl.value, current: cl.value, origin }, warnings, found };
      for (const [result, subject] of [
        [pl, previous],
        [cl, current],
      ] as const) {
        if (result.status === "rejected") warnings.push(`could not use the ${origin} SBOM of ${shortDigest(subject.digest)}: ${reasonOf(result.reason)}`);
      }
    }
  }
  return { warnings, found };
}

export interface SbomLookup {
  /** The packages the first usable SBOM lists. */
  readonly list?: PackageList;
  readonly warnings: readonly string[];
  /** Whether any SBOM was found, used or not. */
  readonly found: boolean;
}

/**
 * The packages one image's SBOM lists (where there is nothing to compare it with: the contents of an image being
 * pinned), looking where `findSbomPair` looks and in the same order, SPDX before CycloneDX; the first usable one
 * wins, and the blobs of the others are never downloaded. Never throws for registry or format problems.
 */
export async function findSbom(registry: Registry, name: ImageName, subject: SbomSubject, options: FindSbomOptions = {}): Promise<SbomLookup> {
  const warnings: string[] = [];
  let found = false;
  for (const origin of SBOM_ORIGINS) {
    options.signal?.throwIfAborted();
    const candidates = await discoverOrWarn(registry, name, subject, origin, warnings);
    found ||= candidates.length > 0;
    for (const source of SOURCES) {
      const candidate = candidates.find((c) => c.source === source);
      if (!candidate) continue;
      try {
        return { list: await readSbom(registry, name, candidate, subject.digest, readOptionsOf(options)), warnings, found };
      } catch (error) {
        warnings.push(`could not use the ${origin} SBOM of ${shortDigest(subject.digest)}: ${reasonOf(error)}`);
      }
    }
  }
  return { warnings, found };
}

/** The SBOM candidates of one origin, or none with a warning when the registry could not be asked. */
async function discoverOrWarn(registry: Registry, name: ImageName, subject: SbomSubject, origin: SbomOrigin, warnings: string[]): Promise<SbomCandidate[]> {
  try {
    return await discoverSboms(registry, name, subject, origin);
  } catch (error) {
    warnings.push(`could not look for ${origin} SBOM attestations of ${shortDigest(subject.digest)}: ${reasonOf(error)}`);
    return [];
  }
}

function readOptionsOf(options: FindSbomOptions) {
  return { ...(options.cache && { cache: options.cache }), ...(options.maxBytes !== undefined && { maxBytes: options.maxBytes }) };
}
