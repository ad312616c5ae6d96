import { createHash } from "node:crypto";
import pLimit from "p-limit";
import { errorLine } from "../errors/error-line.js";
import { findUnpinned, fileKind } from "../pin/finder.js";
import { groupUnpinned, type PinPlan, type TagResolution } from "../pin/plan.js";
import type { UnpinnableOccurrence, UnpinnedOccurrence, UnpinnedScan } from "../pin/types.js";
import { formatPlatform, imageKey } from "../reference/format.js";
import type { ImageName, Platform } from "../reference/types.js";
import { readImagePlatform } from "../registry/image-config.js";
import { assertManifestShape, isIndexMediaType, parseImageManifest, parseIndex, samePlatform } from "../registry/manifest.js";
import { memoizeManifests, type ManifestMemo } from "../registry/manifest-memo.js";
import { RegistryError } from "../registry/errors.js";
import type { Registry } from "../registry/types.js";
import { applyDigestInsertions } from "../rewrite/insert.js";
import { rewriteFileWith, type FileWriteResult } from "./files.js";

export interface UnpinnedFiles extends UnpinnedScan {
  /** sha256 of each file with unpinned references, as scanned: a file that differs when written is left alone. */
  readonly fileDigests: ReadonlyMap<string, string>;
}

export interface UnpinnedCollector {
  /** Give this to the directory scan (ScanOptions.onTextFile): the one walk then finds both kinds of reference. */
  readonly onTextFile: (path: string, bytes: Buffer) => void;
  /** What was found, by path and offset. */
  result(): UnpinnedFiles;
}

/**
 * Finds the unpinned references of each file the scan reads. Pins the configuration ignores (`ignore`) are
 * reported as unpinnable with why, never pinned.
 */
export function createUnpinnedCollector(ignore: (ref: ImageName & { readonly tag: string }) => string | undefined = () => undefined): UnpinnedCollector {
  const unpinned: UnpinnedOccurrence[] = [];
  const unpinnable: UnpinnableOccurrence[] = [];
  const fileDigests = new Map<string, string>();
  return {
    onTextFile(path, bytes) {
      const kind = fileKind(path, bytes.subarray(0, 128).toString("latin1"));
      if (!kind) return;
      const found = findUnpinned(path, bytes.toString("latin1"), kind);
      if (found.unpinned.length > 0) fileDigests.set(path, createHash("sha256").update(bytes).digest("hex"));
      // Loops, not push(...): a file may hold more references than a call takes arguments.
      for (const u of found.unpinned) {
        const reason = ignore(u.reference);
        if (reason) unpinnable.push({ path: u.path, line: u.line, column: u.column, offset: u.offset, text: u.text, syntax: u.syntax, reason });
        else unpinned.push(u);
      }
      for (const u of found.unpinnable) unpinnable.push(u);
    },
    result() {
      const byPlace = (a: { path: string; offset: number }, b: typeof a) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.offset - b.offset);
      return { unpinned: [...unpinned].sort(byPlace), unpinnable: [...unpinnable].sort(byPlace), fileDigests };
    },
  };
}

export interface ResolveTagsOptions {
  /** Pin this platform's image instead of a multi-platform tag's index. */
  readonly platform?: Platform;
  readonly concurrency?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** Looks up each unique image:tag once; one failure never stops the others. */
export async function resolveTags(
  occurrences: readonly UnpinnedOccurrence[],
  registry: Registry,
  options: ResolveTagsOptions = {},
): Promise<Map<string, TagResolution>> {
  const limit = pLimit(options.concurrency ?? 16);
  const groups = [...groupUnpinned(occurrences)];
  const resolutions = new Map<string, TagResolution>();
  const reader = memoizeManifests(registry);
  let done = 0;
  await Promise.all(
    groups.map(([key, [first]]) =>
      limit(async () => {
        const ref = first!.reference;
        try {
          resolutions.set(key, await resolveTag(reader, ref, ref.tag, options.platform));
        } catch (error) {
          resolutions.set(key, { ok: false, reason: errorLine(error) });
        }
        options.onProgress?.(++done, groups.length);
      }),
    ),
  );
  return resolutions;
}

async function resolveTag(registry: ManifestMemo, name: ImageName, tag: string, platform: Platform | undefined): Promise<TagResolution> {
  const label = `${imageKey(name)}:${tag}`;
  // Read, never a HEAD's claim: the digest written is one whose bytes were checked (a HEAD and a read by digest would
  // cost the same two requests where one does).
  const fetched = await registry.getManifest(name, tag);
  assertManifestShape(fetched, `${label} (${fetched.digest})`);
  if (!platform) return { ok: true, digest: fetched.digest, kind: isIndexMediaType(fetched.mediaType) ? "index" : "manifest" };
  if (isIndexMediaType(fetched.mediaType)) {
    const entries = parseIndex(fetched.json, `${label} (${fetched.digest})`);
    const entry = entries.find((e) => e.platform && samePlatform(e.platform, platform));
    if (!entry) {
      const offered = entries.map((e) => e.platform).filter((p): p is Platform => p !== undefined && p.os !== "unknown");
      return { ok: false, reason: `${label} has no ${formatPlatform(platform)} image (it has ${offered.map(formatPlatform).join(", ") || "none"})` };
    }
    // The index may name an image the registry no longer has (deleted, or never pushed whole): a HEAD says.
    try {
      await registry.confirm(name, entry.digest, "manifest");
    } catch (error) {
      if (!(error instanceof RegistryError && error.code === "NOT_FOUND")) throw error;
      return { ok: false, reason: `${label}: the tag's index names ${entry.digest} for ${formatPlatform(platform)}, but the registry does not have it; not pinned until the tag is pushed whole again` };
    }
    return { ok: true, digest: entry.digest, kind: "manifest", platform };
  }
  const { config } = parseImageManifest(fetched.json, `${label} (${fetched.digest})`);
  const own = await readImagePlatform(registry, name, config.digest);
  if (own && !samePlatform(own, platform)) {
    return { ok: false, reason: `${label} is a single ${formatPlatform(own)} image, not ${formatPlatform(platform)}` };
  }
  return { ok: true, digest: fetched.digest, kind: "manifest", platform: own ?? platform };
}

/**
 * Writes a pin plan's insertions, each file atomically and only if it is byte for byte what the scan read
 * (its sha256), and each reference still where it was.
 */
export async function writePins(root: string, plan: PinPlan, fileDigests: ReadonlyMap<string, string>): Promise<FileWriteResult[]> {
  const results: FileWriteResult[] = [];
  for (const [relative, insertions] of plan.insertions) {
    const expected = fileDigests.get(relative);
    results.push(
      await rewriteFileWith(root, relative, expected, (text) => applyDigestInsertions(text, insertions)),
    );
  }
  return results;
}
