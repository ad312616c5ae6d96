import pLimit from "p-limit";
import { errorLine } from "../errors/error-line.js";
import type { PinResolution } from "../plan/types.js";
import { groupPins } from "../plan/plan.js";
import type { FollowedPin } from "../registry/follow-types.js";
import { VanishedPinError } from "../registry/follow.js";
import { digestAt } from "../registry/history.js";
import { parseIndex, samePlatform } from "../registry/manifest.js";
import type { Registry, TagHistoryEntry } from "../registry/types.js";
import { formatPlatform, imageKey, tagKey } from "../reference/format.js";
import type { Digest, ImageName, Platform, PinnedReference } from "../reference/types.js";
import type { PinnedOccurrence } from "../scan/types.js";

export interface PinFollowerLike {
  follow(pin: PinnedReference): Promise<FollowedPin>;
}

export interface ResolveOptions {
  /** Unique pins resolved at once (the registry client also bounds requests per registry). Default 16. */
  readonly concurrency?: number;
  /** Pins for which this returns a reason are left alone and reported as skipped with it. */
  readonly skip?: (ref: PinnedReference) => string | undefined;
  /** Pin each tag to the digest it pointed to at this time, from the registry's tag history. */
  readonly before?: { readonly time: Date; readonly registry: Registry };
  /** Told after each unique pin, for progress display. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Resolves each unique pin once, however many places it stands in; one pin's failure never stops the others. */
export async function resolvePins(
  pins: readonly PinnedOccurrence[],
  follower: PinFollowerLike,
  options: ResolveOptions = {},
): Promise<Map<string, PinResolution>> {
  const limit = pLimit(options.concurrency ?? 16);
  const groups = [...groupPins(pins)];
  const resolutions = new Map<string, PinResolution>();
  const histories = new Map<string, Promise<TagHistoryEntry[]>>();
  let done = 0;

  await Promise.all(
    groups.map(([key, occurrences]) =>
      limit(async () => {
        const ref = occurrences[0]!.reference;
        resolutions.set(key, await resolveOne(ref, follower, options, histories));
        options.onProgress?.(++done, groups.length);
      }),
    ),
  );
  return resolutions;
}

async function resolveOne(
  ref: PinnedReference,
  follower: PinFollowerLike,
  options: ResolveOptions,
  histories: Map<string, Promise<TagHistoryEntry[]>>,
): Promise<PinResolution> {
  const skipReason = options.skip?.(ref);
  if (skipReason) return { ok: false, reason: skipReason, skip: true };
  try {
    const followed = await follower.follow(ref);
    const current = options.before
      ? await digestBefore(ref, followed, options.before, histories)
      : followed.current;
    return {
      ok: true,
      current,
      kind: followed.kind,
      ...(followed.platform ? { platform: followed.platform } : {}),
      ...(followed.vanished ? { vanished: followed.vanished } : {}),
    };
  } catch (error) {
    return {
      ok: false,
      reason: errorLine(error),
      ...(error instanceof NoHistoryBeforeError ? { noHistoryBefore: true } : {}),
      ...(error instanceof VanishedPinError ? { vanished: error.vanished } : {}),
    };
  }
}

/** The tag's history begins after the time asked for. */
class NoHistoryBeforeError extends Error {}

async function digestBefore(
  ref: PinnedReference,
  followed: FollowedPin,
  before: NonNullable<ResolveOptions["before"]>,
  histories: Map<string, Promise<TagHistoryEntry[]>>,
): Promise<Digest> {
  const name: ImageName = { registry: ref.registry, repository: ref.repository };
  const key = tagKey(name, ref.tag);
  let history = histories.get(key);
  if (!history) {
    history = before.registry.tagHistory(name, ref.tag);
    histories.set(key, history);
  }
  const tagDigest = digestAt(await history, before.time);
  if (!tagDigest) {
    throw new NoHistoryBeforeError(`${key} has no history before ${before.time.toISOString()}; pick a later time`);
  }
  if (followed.kind === "index" || !followed.platform) return tagDigest;
  return platformDigestIn(before.registry, name, tagDigest, followed.platform);
}

/** The image of `platform` in the index `digest` (matched as the follower matches it), or `digest` when it is no index. */
async function platformDigestIn(registry: Registry, name: ImageName, digest: Digest, platform: Platform): Promise<Digest> {
  const manifest = await registry.getManifest(name, digest);
  if (!Array.isArray(manifest.json["manifests"])) return digest;
  const entry = parseIndex(manifest.json, `${imageKey(name)}@${digest}`).find((e) => e.platform && samePlatform(e.platform, platform));
  if (!entry) throw new Error(`${digest} has no ${formatPlatform(platform)} image; a platform pin cannot move to it`);
  return entry.digest;
}
