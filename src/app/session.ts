import type { ImageContentsReader } from "../diff/contents.js";
import type { ImageDiff } from "../diff/types.js";
import type { ImageDiffer } from "../engine/package-diffs.js";
import type { PinFollowerLike } from "../engine/resolve.js";
import { createBuildTimeLookup, type BuildTimeLookup } from "../policy/build-time.js";
import { createCooldown, type Cooldown } from "../policy/cooldown.js";
import { formatPlatform, imageKey } from "../reference/format.js";
import type { Platform } from "../reference/types.js";
import { memoizeManifests, type ManifestMemo } from "../registry/manifest-memo.js";
import type { Registry } from "../registry/types.js";
import type { SharedCache } from "../store/shared-cache.js";
import { builtKey } from "../store/shared-registry.js";
import type { VerifySettings } from "../verify/rules.js";
import { createSignatureSource, type SignatureSource } from "../verify/source.js";
import type { Verdict } from "../verify/types.js";

/**
 * What one sweep shares across every repository it refreshes: one pin follower (each unique tag resolved once,
 * however many repositories pin it), tag histories, build times and package diffs, each looked up once.
 */
export interface RegistrySession {
  /** The registry client itself (its statistics, direct reads). */
  readonly registry: Registry;
  /** The registry as the session's steps read it, each manifest once (the follower's reads serve the diffs), and where digests are confirmed before a write. */
  readonly reader: ManifestMemo;
  readonly follower: PinFollowerLike;
  readonly cooldown: Cooldown;
  builtAt(platform: Platform): BuildTimeLookup;
  /** Undefined where the package diff is not available. */
  readonly diff?: ImageDiffer;
  /** The signature checks a repository's `verify` settings ask for; undefined when they name no image. */
  signatures(settings: VerifySettings): SignatureSource | undefined;
  /** The packages of one image (for the pins of `pin: true`); undefined where not available. */
  readonly contents?: ImageContentsReader;
}

export interface SessionParts {
  readonly registry: Registry;
  /** The registry as the session reads it, answers shared through `cache` (default `registry`); give the follower's memo to share its reads. */
  readonly shared?: Registry | ManifestMemo;
  readonly follower: PinFollowerLike;
  readonly diff?: ImageDiffer;
  readonly contents?: ImageContentsReader;
  /**
   * Where build times are kept beyond the session (by digest: they never change), for the process or, on Redis,
   * the fleet.
   */
  readonly cache?: SharedCache;
  /** A Sigstore trusted root file for keyless signatures (`DIGESTA_TRUSTED_ROOT`); default the public-good one. */
  readonly trustedRoot?: string;
}

/** Build times are kept this long in the shared cache (a digest's never changes; the bound is for memory). */
const DIGEST_FACTS_MS = 7 * 24 * 3_600_000;

export function createRegistrySession(parts: SessionParts): RegistrySession {
  const reader = memoizeManifests(parts.shared ?? parts.registry);
  const cache = parts.cache;
  const lookups = new Map<string, BuildTimeLookup>();
  const builtAt = (platform: Platform): BuildTimeLookup => {
    const key = formatPlatform(platform);
    let lookup = lookups.get(key);
    if (!lookup) {
      const local = createBuildTimeLookup(reader, platform);
      lookup = cache
        ? (image, digest) =>
            cache
              .once(builtKey(image, digest, platform), DIGEST_FACTS_MS, async () => (await local(image, digest))?.toISOString() ?? "")
              .then((stamp) => (stamp ? new Date(stamp) : undefined), () => local(image, digest))
        : local;
      lookups.set(key, lookup);
    }
    return lookup;
  };
  const cooldown = createCooldown(reader, parts.follower, builtAt({ os: "linux", architecture: "amd64" }));
  const diffs = new Map<string, Promise<ImageDiff>>();
  const differ = parts.diff;
  const diff: ImageDiffer | undefined = differ
    ? (image, tag, from, to, platform) => {
        const key = `${imageKey(image)}@${from}..${to}/${formatPlatform(platform)}`;
        let found = diffs.get(key);
        if (!found) {
          found = differ(image, tag, from, to, platform);
          found.catch(() => undefined);
          diffs.set(key, found);
        }
        return found;
      }
    : undefined;
  // One verdict per signer, image and digest for the whole session, whichever repositories ask.
  const verdicts = new Map<string, Promise<Verdict>>();
  const signatures = (settings: VerifySettings) =>
    createSignatureSource(reader, settings, { verdicts, ...(parts.trustedRoot ? { trustedRoot: parts.trustedRoot } : {}) });
  const contents = parts.contents;
  return { registry: parts.registry, reader, follower: parts.follower, cooldown, builtAt, signatures, ...(diff ? { diff } : {}), ...(contents ? { contents } : {}) };
}
