import type { Digest, ImageName, Platform } from "../reference/types.js";
import { isDigest } from "../reference/digest.js";
import { imageKey } from "../reference/format.js";
import { MAX_CONFIG_BYTES, readImageConfig } from "../registry/image-config.js";
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
  let manifest = await registry.getManifest(image, digest);
  const entries = manifest.json["manifests"];
  if (Array.isArray(entries)) {
    const child = pickPlatform(entries, platform);
    if (!child) return undefined;
    manifest = await registry.getManifest(image, child);
  }
  const config = manifest.json["config"] as { digest?: unknown; size?: unknown } | undefined;
  if (!config || typeof config.digest !== "string" || !isDigest(config.digest)) return undefined;
  if (typeof config.size === "number" && config.size > MAX_CONFIG_BYTES) return undefined;
  const { created: stamp } = await readImageConfig(registry, image, config.digest);
  if (typeof stamp !== "string") return undefined;
  const created = new Date(stamp);
  const time = created.getTime();
  return Number.isFinite(time) && time >= EARLIEST_PLAUSIBLE ? created : undefined;
}

function pickPlatform(entries: unknown[], platform: Platform): Digest | undefined {
  const images = entries.filter(
    (e): e is { digest: string; platform?: Partial<Platform> } =>
      typeof e === "object" && e !== null && typeof (e as { digest?: unknown }).digest === "string",
  );
  const same = (p: Partial<Platform> | undefined) =>
    p?.os === platform.os && p.architecture === platform.architecture && (platform.variant === undefined || p.variant === platform.variant);
  const chosen = images.find((e) => same(e.platform)) ?? images.find((e) => e.platform?.os !== "unknown");
  return chosen && isDigest(chosen.digest) ? chosen.digest : undefined;
}
