import { imageKey } from "../reference/format.js";
import type { Digest, ImageName, Platform } from "../reference/types.js";
import { parseJsonObject, platformOfConfig } from "./manifest.js";
import type { Registry } from "./types.js";

/** Image configs are small JSON (a few KiB, rarely more than 100 KiB); anything past this is not one. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** An image's config blob as a JSON object, size-capped and verified. Throws RegistryError (BAD_RESPONSE when not a JSON object). */
export async function readImageConfig(registry: Registry, name: ImageName, configDigest: Digest): Promise<Record<string, unknown>> {
  const bytes = await registry.getBlob(name, configDigest, MAX_CONFIG_BYTES);
  return parseJsonObject(bytes, `${imageKey(name)}@${configDigest}: image config`);
}

/** The platform an image was built for, from its config; undefined when the config names none. Throws RegistryError. */
export async function readImagePlatform(registry: Registry, name: ImageName, configDigest: Digest): Promise<Platform | undefined> {
  return platformOfConfig(await readImageConfig(registry, name, configDigest));
}
