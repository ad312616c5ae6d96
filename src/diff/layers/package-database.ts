import type { ImageName } from "../../reference/types.js";
import type { Descriptor, Registry } from "../../registry/types.js";
import type { PackageListCache } from "../cache.js";
import { apkDistroOf, parseApkInstalled } from "../parse/apk-installed.js";
import { readRpmDatabase } from "../parse/rpm-database.js";
import { dpkgDistroOf, parseDpkgStatus } from "../parse/dpkg-status.js";
import { MAX_PACKAGES } from "../parse/fields.js";
import type { Package, PackageList, PackageSource } from "../types.js";
import { formatBytes, reasonOf, shortDigest } from "./messages.js";
import { Deletions } from "./paths.js";
import { DEFAULT_MAX_DATABASE_BYTES, isDecisive, scanLayer, type FoundFile, type LayerFindings } from "./tar-scan.js";

export interface ReadPackageDatabaseOptions {
  readonly cache?: PackageListCache;
  readonly signal?: AbortSignal;
  /** Largest database file held in memory. Default 64 MiB. */
  readonly maxFileBytes?: number;
  /** Images with more layers than this are not read. Default 512. */
  readonly maxLayers?: number;
}

export interface PackageDatabaseResult {
  /** The packages, when a database digesta reads was found. */
  readonly list?: PackageList;
  /** What was found: a database kind (with no list when it could not be read), or "none". */
  readonly source: PackageSource | "none";
  readonly warnings: readonly string[];
  /** Layers downloaded (fully or partly); cached layers are not counted. */
  readonly layersDownloaded: number;
  /** Compressed layer bytes consumed from the registry. */
  readonly bytesRead: number;
  /** Set when a layer could not be read: the image's packages are unknown, not absent. */
  readonly unreadable?: true;
}

/**
 * The image's installed packages, from its package database, reading `layers` (manifest order: bottom first) from
 * the top down and stopping at the first layer that answers:
 * - apk (`lib/apk/db/installed`, `usr/lib/apk/db/installed`), dpkg `var/lib/dpkg/status` (non-empty) and RPM end the
 *   search in the layer where they are found (the download is aborted right after the file).
 * - Distroless dpkg (`var/lib/dpkg/status.d/<package>`): each package's file lands in the layer that installed it, so
 *   the files are merged from every layer, upper ones winning, down to the bottom layer or to the layer under a
 *   whiteout or opaque marker that hides status.d from the lower layers. Those layers are read to their end (a tar
 *   has no index); what each holds is cached by layer digest, so layers shared with the other side are read once.
 * - Whiteouts in a layer hide the files of the layers below it, never its own.
 * Never throws for registry or format problems: they end the search with a warning.
 */
export async function readPackageDatabase(
  registry: Registry,
  name: ImageName,
  layers: readonly Descriptor[],
  options: ReadPackageDatabaseOptions = {},
): Promise<PackageDatabaseResult> {
  const maxLayers = options.maxLayers ?? 512;
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_DATABASE_BYTES;
  const warnings: string[] = [];
  let layersDownloaded = 0;
  let bytesRead = 0;
  if (layers.length > maxLayers) {
    return {
      source: "none",
      warnings: [`the image has ${layers.length} layers, more than the ${maxLayers} digesta reads; its packages are not listed`],
      layersDownloaded,
      bytesRead,
    };
  }

  const deletions = new Deletions();
  const seen = new SearchState();
  for (let i = layers.length - 1; i >= 0 && !seen.decided && !deletions.hidesEveryDatabase(); i--) {
    options.signal?.throwIfAborted();
    const layer = layers[i]!;
    let findings = options.cache?.getLayer(layer.digest);
    if (findings && !findings.complete && !answersHere(findings, deletions, seen.needsOsRelease)) findings = undefined;
    if (!findings) {
      let blob;
      try {
        blob = await registry.openBlob(name, layer.digest);
      } catch (error) {
        warnings.push(`could not read layer ${shortDigest(layer.digest)}: ${reasonOf(error)}`);
        return { source: "none", warnings, layersDownloaded, bytesRead, unreadable: true };
      }
      layersDownloaded++;
      try {
        const scan = await scanLayer(blob.stream, {
          hidden: (p) => deletions.hides(p),
          osReleaseKnown: seen.osReleaseKnown,
          untilOsRelease: seen.needsOsRelease,
          maxFileBytes,
          maxBytes: layer.size,
          ...(options.signal && { signal: options.signal }),
        });
        bytesRead += scan.bytesRead;
        findings = scan.findings;
      } catch (error) {
        options.signal?.throwIfAborted();
        warnings.push(`could not read layer ${shortDigest(layer.digest)}: ${reasonOf(error)}`);
        return { source: "none", warnings, layersDownloaded, bytesRead, unreadable: true };
      } finally {
        blob.abort();
      }
      options.cache?.setLayer(layer.digest, findings);
    }
    for (const path of findings.oversized) {
      if (!deletions.hides(path)) warnings.push(`/${path} in layer ${shortDigest(layer.digest)} is over ${formatBytes(maxFileBytes)}; not read`);
    }
    seen.take(findings, deletions);
    deletions.add(findings.whiteouts);
  }
  const found = await seen.result(maxFileBytes);
  if (found.list && found.list.packages.length > MAX_PACKAGES) {
    warnings.push(`the ${found.source} database lists more than ${MAX_PACKAGES} packages, more than any real image; its packages are not listed`);
    return { source: found.source, warnings, layersDownloaded, bytesRead };
  }
  return { ...found, warnings: [...warnings, ...found.warnings], layersDownloaded, bytesRead };
}

/**
 * Cached findings of a read that stopped early serve only where what it stopped at is visible: a database, or an
 * os-release when that is all the search still needs.
 */
function answersHere(findings: LayerFindings, deletions: Deletions, needsOsRelease: boolean): boolean {
  const answers = (f: FoundFile): boolean => (needsOsRelease ? f.file.kind === "os-release" : isDecisive(f));
  return findings.files.some((f) => answers(f) && !deletions.hides(f.path));
}

/** The visible database files met so far, from the top layer down. */
class SearchState {
  private apk?: FoundFile;
  private rpm?: FoundFile;
  private rpmWal?: FoundFile | undefined;
  private dpkgStatus?: FoundFile;
  private readonly statusD = new Map<string, FoundFile>();
  private osRelease?: FoundFile;

  get decided(): boolean {
    if (this.apk) return !this.needsOsRelease;
    return this.rpm !== undefined || (this.dpkgStatus !== undefined && isDecisive(this.dpkgStatus));
  }

  /** An apk database was found that names no distribution, and no os-release yet: the lower layers may have one. */
  get needsOsRelease(): boolean {
    return this.apk !== undefined && this.osRelease === undefined && apkDistroOf(this.apk.text) === undefined;
  }

  get osReleaseKnown(): boolean {
    return this.osRelease !== undefined;
  }

  take(findings: LayerFindings, deletions: Deletions): void {
    for (const f of findings.files) {
      if (deletions.hides(f.path)) continue;
      switch (f.file.kind) {
        case "apk":
          this.apk ??= f;
          break;
        case "rpm":
          if (this.rpm) break;
          this.rpm = f;
          // Its write-ahead log counts only from the same layer: a log of another layer is of another database file.
          this.rpmWal = findings.files.find((w) => w.file.kind === "rpm-wal" && w.path === `${f.path}-wal` && !deletions.hides(w.path));
          break;
        case "dpkg-status":
          this.dpkgStatus ??= f;
          break;
        case "dpkg-status-d":
          if (!this.statusD.has(f.file.entry)) this.statusD.set(f.file.entry, f);
          break;
        case "os-release":
          this.osRelease ??= f;
          break;
      }
    }
  }

  async result(maxBytes: number): Promise<{ list?: PackageList; source: PackageSource | "none"; warnings: string[] }> {
    const osId = this.osRelease && osReleaseId(this.osRelease.text);
    if (this.apk) {
      const distro = osId ?? apkDistroOf(this.apk.text);
      return { list: { source: "apk", packages: parseApkInstalled(this.apk.text, distro ? { distro } : {}) }, source: "apk", warnings: [] };
    }
    if (this.dpkgStatus || this.statusD.size > 0) {
      const files = [this.dpkgStatus, ...[...this.statusD.keys()].sort().map((entry) => this.statusD.get(entry))];
      const distro = osId ?? files.map((f) => f && dpkgDistroOf(f.text)).find(Boolean);
      const options = distro ? { distro } : {};
      let packages: Package[] = [];
      for (const file of files) {
        if (file && packages.length <= MAX_PACKAGES) packages = packages.concat(parseDpkgStatus(file.text, options));
      }
      return { list: { source: "dpkg", packages }, source: "dpkg", warnings: [] };
    }
    if (this.rpm) return this.rpmResult(this.rpm, osId, maxBytes);
    return { source: "none", warnings: ["no package database (apk, dpkg or rpm) in the image's layers"] };
  }

  private async rpmResult(db: FoundFile, distro: string | undefined, maxBytes: number) {
    const where = `/${db.path}`;
    if (db.file.kind !== "rpm" || !db.bytes) return { source: "rpm" as const, warnings: [`could not read the rpm database ${where}`] };
    try {
      const wal = this.rpmWal?.bytes;
      const read = await readRpmDatabase({ format: db.file.format, bytes: db.bytes, ...(wal && { wal }) }, { maxBytes, ...(distro && { distro }) });
      const warnings = read.unreadable > 0 ? [`${read.unreadable} entries of the rpm database ${where} are not rpm headers; left out`] : [];
      return { list: { source: "rpm" as const, packages: read.packages }, source: "rpm" as const, warnings };
    } catch (error) {
      return { source: "rpm" as const, warnings: [`could not read the rpm database ${where}: ${reasonOf(error)}`] };
    }
  }
}

/** `ID=` of an os-release file, lowercased and unquoted; the purl namespace of the distro's packages. */
export function osReleaseId(text: string): string | undefined {
  const match = /^ID=(.*)$/m.exec(text);
  const id = match?.[1]
    ?.trim()
    .replace(/^(["'])(.*)\1$/, "$2")
    .toLowerCase();
  return id && /^[a-z0-9._-]{1,64}$/.test(id) ? id : undefined;
}
