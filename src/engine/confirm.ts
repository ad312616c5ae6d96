import pLimit from "p-limit";
import { errorLine } from "../errors/error-line.js";
import { groupPins } from "../plan/plan.js";
import type { PinResolution } from "../plan/types.js";
import { formatPlatform, tagKey } from "../reference/format.js";
import type { ImageName } from "../reference/types.js";
import { RegistryError } from "../registry/errors.js";
import type { ConfirmOptions, ManifestMemo } from "../registry/manifest-memo.js";
import type { PinnedOccurrence } from "../scan/types.js";

export interface ConfirmMovesOptions extends ConfirmOptions {
  /** Distinct digests confirmed at once (the registry client also bounds requests per registry). Default 16. */
  readonly concurrency?: number;
}

/**
 * The last step before a write (`update`, the app's and the Action's pull requests): each digest a pin would move to
 * is confirmed to be one the registry holds, once per distinct digest, through the run's manifest memo (free when the
 * run already read it; a GET when `read` says the package diff reads it next; a HEAD otherwise). An index can name a
 * platform image the registry no longer has (deleted, or never pushed whole), and a tag's history can lead to a digest
 * since deleted: a pin moved there fails every deploy. Such a pin is reported as failed with one line saying why and
 * is left as it is; the other pins move.
 */
export async function confirmMoves(
  pins: readonly PinnedOccurrence[],
  resolutions: ReadonlyMap<string, PinResolution>,
  reader: ManifestMemo,
  options: ConfirmMovesOptions = {},
): Promise<Map<string, PinResolution>> {
  const limit = pLimit(options.concurrency ?? 16);
  const result = new Map(resolutions);
  await Promise.all(
    [...groupPins(pins)].map(([key, [first]]) => {
      const resolution = resolutions.get(key);
      const ref = first!.reference;
      if (!resolution?.ok || resolution.current === ref.digest) return undefined;
      const image: ImageName = { registry: ref.registry, repository: ref.repository };
      const read = options.read ? { read: true } : {};
      return limit(() => reader.confirm(image, resolution.current, resolution.kind, read)).catch((error: unknown) => {
        const names = resolution.platform
          ? `the tag's index names ${resolution.current} for ${formatPlatform(resolution.platform)}`
          : `the tag leads to ${resolution.current}`;
        const why =
          error instanceof RegistryError && error.code === "NOT_FOUND"
            ? `${tagKey(image, ref.tag)}: ${names}, but the registry does not have it; the pin is left as it is until the tag is pushed whole again`
            : `${tagKey(image, ref.tag)}: could not confirm the registry has ${resolution.current}, so the pin is left as it is: ${errorLine(error)}`;
        // A pin whose own digest is gone stays reported as vanished (a deploy from it fails), with why it is not moved.
        result.set(key, resolution.vanished ? { ok: false, vanished: resolution.vanished, reason: `the pinned digest ${ref.digest} no longer exists on ${ref.registry}; ${why}` } : { ok: false, reason: why });
      });
    }),
  );
  return result;
}
