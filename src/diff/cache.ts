import type { Digest } from "../reference/types.js";
import type { LayerFindings } from "./layers/tar-scan.js";
import type { PackageList } from "./types.js";

/**
 * What digesta has already learnt about layers and SBOMs, by content digest, so that layers shared by the two sides
 * of a diff, or by many images across repositories, are downloaded once.
 */
export interface PackageListCache {
  getLayer(digest: Digest): LayerFindings | undefined;
  setLayer(digest: Digest, findings: LayerFindings): void;
  /** The packages of an SBOM blob, as checked against the image digest it was read for. */
  getSbom(sbomDigest: Digest, subject: Digest): PackageList | undefined;
  setSbom(sbomDigest: Digest, subject: Digest, list: PackageList): void;
  /** Entries held now. */
  readonly size: number;
}

export interface PackageListCacheOptions {
  /** Most entries kept; the least recently used go first. Default 2048. */
  readonly maxEntries?: number;
  /** Rough bound on the text and packages held, in bytes. Default 256 MiB. */
  readonly maxBytes?: number;
}

type Entry = { readonly kind: "layer"; readonly value: LayerFindings } | { readonly kind: "sbom"; readonly value: PackageList };

/** An in-memory LRU cache bounded by entry count and by an estimate of the bytes it holds. */
export function createPackageListCache(options: PackageListCacheOptions = {}): PackageListCache {
  const maxEntries = Math.max(1, options.maxEntries ?? 2048);
  const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  const entries = new Map<string, { entry: Entry; bytes: number }>();
  let bytes = 0;

  const get = (key: string): Entry | undefined => {
    const hit = entries.get(key);
    if (!hit) return undefined;
    entries.delete(key);
    entries.set(key, hit);
    return hit.entry;
  };
  const set = (key: string, entry: Entry): void => {
    const size = estimateBytes(entry);
    if (size > maxBytes) return;
    const old = entries.get(key);
    if (old) {
      entries.delete(key);
      bytes -= old.bytes;
    }
    entries.set(key, { entry, bytes: size });
    bytes += size;
    for (const [oldest, { bytes: b }] of entries) {
      if (entries.size <= maxEntries && bytes <= maxBytes) break;
      entries.delete(oldest);
      bytes -= b;
    }
  };

  return {
    getLayer(digest) {
      const e = get(`layer:${digest}`);
      return e?.kind === "layer" ? e.value : undefined;
    },
    setLayer(digest, findings) {
      const key = `layer:${digest}`;
      const old = entries.get(key)?.entry;
      // Never replace what a whole read learnt with what a read that stopped early learnt.
      if (old?.kind === "layer" && old.value.complete && !findings.complete) return;
      set(key, { kind: "layer", value: findings });
    },
    getSbom(sbomDigest, subject) {
      const e = get(`sbom:${sbomDigest}@${subject}`);
      return e?.kind === "sbom" ? e.value : undefined;
    },
    setSbom(sbomDigest, subject, list) {
      set(`sbom:${sbomDigest}@${subject}`, { kind: "sbom", value: list });
    },
    get size() {
      return entries.size;
    },
  };
}

function estimateBytes(entry: Entry): number {
  if (entry.kind === "layer") {
    let n = 256;
    for (const f of entry.value.files) n += 2 * (f.text.length + f.path.length) + (f.bytes?.length ?? 0) + 64;
    return n + 64 * (entry.value.whiteouts.length + entry.value.oversized.length);
  }
  let n = 256;
  for (const p of entry.value.packages) {
    n += 2 * (p.name.length + p.version.length + (p.purl?.length ?? 0) + (p.origin?.length ?? 0) + (p.arch?.length ?? 0)) + 96;
  }
  return n;
}
