import type { Logger } from "pino";
import type { Digest, ImageName, PinnedReference, Platform } from "../reference/types.js";
import { formatPlatform, imageKey } from "../reference/format.js";
import { DOCKER_HUB } from "../reference/name.js";
import { RegistryError } from "./errors.js";
import type { FollowedPin, Vanished } from "./follow-types.js";
import { readImagePlatform } from "./image-config.js";
import { assertManifestShape, isIndexMediaType, parseImageManifest, parseIndex, samePlatform } from "./manifest.js";
import { memoizeManifests, type ManifestMemo } from "./manifest-memo.js";
import type { Descriptor, FetchedManifest, Registry } from "./types.js";

export type { FollowedPin, Vanished };

/** A pin whose digest or tag the registry no longer has (404): not up to date, and not a failure to check. */
export class VanishedPinError extends RegistryError {
  constructor(
    readonly vanished: Vanished,
    message: string,
  ) {
    super("NOT_FOUND", message, 404);
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof RegistryError && error.code === "NOT_FOUND";
}

export interface PinFollower {
  follow(pin: PinnedReference): Promise<FollowedPin>;
}

export interface PinFollowerOptions {
  readonly logger?: Logger;
  /**
   * Registries whose tags are looked up with HEAD before any GET. Default: Docker Hub only, which counts manifest
   * GETs, not HEADs, against its pull rate limits. Elsewhere one GET of the tag gives both its digest and, for an
   * index, the entries that platform pins are matched against: one manifest request per tag instead of two.
   */
  readonly headFirst?: (registry: string) => boolean;
}

const DOCKER_HUB_ONLY = (registry: string): boolean => registry === DOCKER_HUB;

/**
 * Follows `image:tag@digest` pins to what the tag means now, keeping the pin's kind:
 *
 * - The tag points to the pinned digest: up to date, nothing else is read.
 * - The pin is one of the entries of the tag's current index: a platform pin that is already current.
 * - The pin names an index: it moves to the tag's digest, even if the tag now names a single manifest
 *   (the tag's author chose to drop the other platforms; the pin keeps following the tag as written).
 * - The pin names an image manifest: its platform (from its config) is looked up in the tag's current
 *   index; a tag that names a single manifest is taken if its platform is the same. A platform that has
 *   gone is NO_PLATFORM: a pin never silently changes platform, nor turns from index to manifest.
 * - The pinned digest is gone from the registry: a single-manifest tag is simply followed; for an index
 *   tag the pin's platform cannot be known, so NOT_FOUND asks for a hand edit.
 *
 * Per follower (one run), each tag is resolved once, each manifest and config read at most once, and
 * concurrent calls for the same thing share one request. Given a ManifestMemo, the follower reads through it, so what
 * it read is not read again by the rest of the run (the confirmation before a write, the package diff).
 *
 * The platform image an index names for a platform pin is reported without being read: a read-only run (check, the
 * app's planning) needs no more. Whether the registry still has it (an index can name one that was deleted, or never
 * pushed whole) is confirmed once per distinct digest just before a write: see confirmMoves (src/engine/confirm.ts).
 */
export function createPinFollower(registry: Registry | ManifestMemo, options: PinFollowerOptions = {}): PinFollower {
  const logger = options.logger;
  const reader = memoizeManifests(registry);
  const tags = new Map<string, Promise<Descriptor>>();
  const platforms = new Map<string, Promise<Platform | undefined>>();
  const follows = new Map<string, Promise<FollowedPin>>();

  const memo = <T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> => {
    let found = cache.get(key);
    if (!found) {
      found = load();
      cache.set(key, found);
    }
    return found;
  };

  const headFirst = options.headFirst ?? DOCKER_HUB_ONLY;
  const resolveTag = (name: ImageName, tag: string): Promise<Descriptor> =>
    memo(tags, `${imageKey(name)}:${tag}`, async () => {
      if (headFirst(name.registry)) return reader.headManifest(name, tag);
      // Kept under its digest by the memo: a pin moving to the tag's digest needs no second read.
      const fetched = await reader.getManifest(name, tag);
      return { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.byteLength };
    });

  const manifest = (name: ImageName, digest: Digest): Promise<FetchedManifest> => reader.getManifest(name, digest);

  /** The platform an image manifest was built for, from its config blob; undefined when the config names none. */
  const platformOf = (name: ImageName, digest: Digest): Promise<Platform | undefined> =>
    memo(platforms, `${imageKey(name)}@${digest}`, async () => {
      const fetched = await manifest(name, digest);
      const { config } = parseImageManifest(fetched.json, `${imageKey(name)}@${digest}`);
      return readImagePlatform(reader, name, config.digest);
    });

  async function follow(pin: PinnedReference): Promise<FollowedPin> {
    const name: ImageName = { registry: pin.registry, repository: pin.repository };
    const label = `${imageKey(name)}:${pin.tag}`;
    let tag: Descriptor;
    try {
      tag = await resolveTag(name, pin.tag);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      throw await tagVanished(name, label, pin);
    }
    const tagIsIndex = isIndexMediaType(tag.mediaType);
    if (tag.digest === pin.digest) {
      return { current: tag.digest, kind: tagIsIndex ? "index" : "manifest", tagDigest: tag.digest };
    }

    let entries: Descriptor[] = [];
    if (tagIsIndex) {
      entries = parseIndex((await manifest(name, tag.digest)).json, `${label} (${tag.digest})`);
      const entry = entries.find((e) => e.digest === pin.digest);
      if (entry) {
        return { current: pin.digest, kind: "manifest", ...(entry.platform ? { platform: entry.platform } : {}), tagDigest: tag.digest };
      }
    }

    let pinned: FetchedManifest;
    try {
      pinned = await manifest(name, pin.digest);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      if (!tagIsIndex) {
        logger?.debug({ pin: `${label}@${pin.digest}` }, "pinned digest is gone; following the single-manifest tag");
        return { current: tag.digest, kind: "manifest", tagDigest: tag.digest, vanished: "digest" };
      }
      throw new VanishedPinError(
        "digest",
        `${label}: the pinned digest ${pin.digest} no longer exists on ${pin.registry}, so a deploy from this pin fails; the tag is multi-platform and the pin's platform cannot be known: pin it again by hand (digesta pin)`,
      );
    }

    if (isIndexMediaType(pinned.mediaType)) {
      return { current: tag.digest, kind: "index", tagDigest: tag.digest };
    }

    const platform = await platformOf(name, pin.digest);
    if (!tagIsIndex) {
      if (platform) {
        const tagPlatform = await platformOf(name, tag.digest);
        if (tagPlatform && !samePlatform(platform, tagPlatform)) {
          throw new RegistryError(
            "NO_PLATFORM",
            `${label}: the pin is a ${formatPlatform(platform)} image but the tag now names a ${formatPlatform(tagPlatform)} image; pin another tag or update by hand`,
          );
        }
      }
      return { current: tag.digest, kind: "manifest", ...(platform ? { platform } : {}), tagDigest: tag.digest };
    }

    if (!platform) {
      throw new RegistryError(
        "NO_PLATFORM",
        `${label}: the pinned manifest ${pin.digest} declares no platform, so it cannot be matched in the tag's index; pin the index or update by hand`,
      );
    }
    const match = entries.find((e) => e.platform && samePlatform(e.platform, platform));
    if (!match) {
      const offered = entries
        .map((e) => e.platform)
        .filter((p): p is Platform => p !== undefined && p.os !== "unknown")
        .map(formatPlatform);
      throw new RegistryError(
        "NO_PLATFORM",
        `${label}: the tag no longer has a ${formatPlatform(platform)} image (it has ${offered.length > 0 ? offered.join(", ") : "none"}); pin another platform or the index`,
      );
    }
    return { current: match.digest, kind: "manifest", platform, tagDigest: tag.digest };
  }

  /** The tag is gone: whether the pinned digest is still there says how bad it is. */
  async function tagVanished(name: ImageName, label: string, pin: PinnedReference): Promise<VanishedPinError> {
    let digestGone = false;
    try {
      await manifest(name, pin.digest);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      digestGone = true;
    }
    return digestGone
      ? new VanishedPinError(
          "tag-and-digest",
          `${label}: neither the tag nor the pinned digest ${pin.digest} exists on ${pin.registry} any more, so a deploy from this pin fails; pin a tag that exists`,
        )
      : new VanishedPinError(
          "tag",
          `${label}: the tag no longer exists on ${pin.registry}; the pinned digest still does, but nothing can move it: pin a tag that exists`,
        );
  }

  /**
   * The tag's own digest a pin moves to is one read from the registry and verified against itself: a HEAD's
   * Docker-Content-Digest is only a claim, so it is read once when the pin would move to it (free when the tag was
   * read by GET). An entry of the tag's verified index is reported as the index names it, unread.
   */
  async function followVerified(pin: PinnedReference): Promise<FollowedPin> {
    const followed = await follow(pin);
    if (followed.current !== pin.digest && followed.current === followed.tagDigest) {
      const name: ImageName = { registry: pin.registry, repository: pin.repository };
      assertManifestShape(await manifest(name, followed.current), `${imageKey(name)}@${followed.current}`);
    }
    return followed;
  }

  return {
    follow(pin) {
      return memo(follows, `${imageKey(pin)}:${pin.tag}@${pin.digest}`, () => followVerified(pin));
    },
  };
}
