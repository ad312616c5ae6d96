import type { Digest, ImageName, Platform } from "../reference/types.js";
import { imageKey } from "../reference/format.js";
import { MAX_CONFIG_BYTES, readImageConfig } from "../registry/image-config.js";
import { parseImageManifest, parseIndex, samePlatform } from "../registry/manifest.js";
import type { Registry } from "../registry/types.js";

/** When the image behind a digest was built, from its config's `created`; undefined where unknown or unreadable. */
export type BuildTimeLookup = (image: ImageName, digest: Digest) => Promise<Date | undefined>;

// Reproducible builds stamp the epoch (or a date close to it): that says nothing about when the image was made.
const EARLIEST_PLAUSIBLE = Date.UTC(2000, 0, 1);

/**
 * Reads `created` from the image config (for an index: the manifest of `platform`, else the first image in it).
 * Memoised per image and digest for the lookup's life (one sweep); never throws.
 */
export function createBuildTimeLookup(registry: Registry, platform: Platform): BuildTimeLookup {
  const memo = new Map<string, Promise<Date | undefined>>();
  return (image, digest) => {
    const key = `${imageKey(image)}@${digest}`;
    let found = memo.get(key);
    if (!found) {
      found = readCreated(registry, image, digest, platform).catch(() => undefined);
      memo.set(key, found);
    }
    return found;
  };
}

async function readCreated(registry: Registry, image: ImageName, digest: Digest, platform: Platform): Promise<Date | undefined> {
  const what = `${imageKey(image)}@${digest}`;
  let manifest = await registry.getManifest(image, digest);
  if (Array.isArray(manifest.json["manifests"])) {
    // The platform asked for, as the pin follower matches it (arm64 = arm64/v8), else the first real image.
    const entries = parseIndex(manifest.json, what);
    const chosen = entries.find((e) => e.platform && samePlatform(e.platform, platform)) ?? entries.find((e) => e.platform?.os !== "unknown");
    if (!chosen) return undefined;
    manifest = await registry.getManifest(image, chosen.digest);
  }
  const { config } = parseImageManifest(manifest.json, what);
  if (config.size > MAX_CONFIG_BYTES) return undefined;
  const { created: stamp } = await readImageConfig(registry, image, config.digest);
  if (typeof stamp !== "string") return undefined;
  const created = new Date(stamp);
  const time = created.getTime();
  return Number.isFinite(time) && time >= EARLIEST_PLAUSIBLE ? created : undefined;
}
