import type { ImageDiff } from "../diff/types.js";
import type { ImageDiffer } from "../engine/package-diffs.js";
import type { PinFollowerLike } from "../engine/resolve.js";
import { createBuildTimeLookup, type BuildTimeLookup } from "../policy/build-time.js";
import { createCooldown, type Cooldown } from "../policy/cooldown.js";
import { formatPlatform, imageKey } from "../reference/format.js";
import type { Platform } from "../reference/types.js";
import type { Registry } from "../registry/types.js";

/**
 * What one sweep shares across every repository it refreshes: one pin follower (each unique tag resolved once,
 * however many repositories pin it), tag histories, build times and package diffs, each looked up once.
 */
export interface RegistrySession {
  readonly registry: Registry;
  readonly follower: PinFollowerLike;
  readonly cooldown: Cooldown;
  builtAt(platform: Platform): BuildTimeLookup;
  /** Undefined where the package diff is not available. */
  readonly diff?: ImageDiffer;
}

export interface SessionParts {
  readonly registry: Registry;
  readonly follower: PinFollowerLike;
  readonly diff?: ImageDiffer;
}

export function createRegistrySession(parts: SessionParts): RegistrySession {
  const lookups = new Map<string, BuildTimeLookup>();
  const builtAt = (platform: Platform): BuildTimeLookup => {
    const key = formatPlatform(platform);
    let lookup = lookups.get(key);
    if (!lookup) {
      lookup = createBuildTimeLookup(parts.registry, platform);
      lookups.set(key, lookup);
    }
    return lookup;
  };
  const cooldown = createCooldown(parts.registry, parts.follower, builtAt({ os: "linux", architecture: "amd64" }));
  const diffs = new Map<string, Promise<ImageDiff>>();
  const diff: ImageDiffer | undefined = parts.diff
    ? (image, tag, from, to, platform) => {
        const key = `${imageKey(image)}@${from}..${to}/${formatPlatform(platform)}`;
        let found = diffs.get(key);
        if (!found) {
          found = parts.diff!(image, tag, from, to, platform);
          found.catch(() => undefined);
          diffs.set(key, found);
        }
        return found;
      }
    : undefined;
  return { registry: parts.registry, follower: parts.follower, cooldown, builtAt, ...(diff ? { diff } : {}) };
}
