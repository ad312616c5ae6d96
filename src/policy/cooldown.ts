import pLimit from "p-limit";
import { groupPins } from "../plan/plan.js";
import type { PinResolution } from "../plan/types.js";
import { resolvePins, type PinFollowerLike } from "../engine/resolve.js";
import type { Registry, TagHistoryEntry } from "../registry/types.js";
import { tagKey } from "../reference/format.js";
import type { ImageName } from "../reference/types.js";
import type { PinnedOccurrence } from "../scan/types.js";
import type { BuildTimeLookup } from "./build-time.js";

/** Moved pins whose history or build time is looked up at once (the registry client also bounds requests per registry). */
const LOOKUP_CONCURRENCY = 16;

/** How every reason the cooldown gives starts: how a report tells a pin held back from one skipped by `ignore`. */
export const COOLDOWN_REASON = "cooldown: ";

export interface CooldownOptions {
  /** Milliseconds a new digest must have existed before it is proposed. */
  readonly minAge: number;
  readonly now: Date;
}

/** Holds back digests younger than a minimum age. One per sweep: tag histories are fetched once per tag. */
export interface Cooldown {
  apply(
    pins: readonly PinnedOccurrence[],
    resolutions: ReadonlyMap<string, PinResolution>,
    options: CooldownOptions,
  ): Promise<Map<string, PinResolution>>;
}

/**
 * Where the registry keeps tag history (Chainguard), a moving pin goes to what the tag pointed to `minAge` ago, so
 * an older, settled digest is still proposed. Elsewhere the new image's `created` time decides: too young, and the
 * pin is skipped with when it becomes eligible; unknown, and it is proposed (cooldown cannot be enforced).
 */
export function createCooldown(registry: Registry, follower: PinFollowerLike, builtAt: BuildTimeLookup): Cooldown {
  const histories = new Map<string, Promise<TagHistoryEntry[]>>();
  const remembering: Registry = Object.create(registry, {
    tagHistory: {
      value: (name: ImageName, tag: string) => {
        const key = tagKey(name, tag);
        let history = histories.get(key);
        if (!history) {
          history = registry.tagHistory(name, tag);
          history.catch(() => undefined);
          histories.set(key, history);
        }
        return history;
      },
    },
  }) as Registry;

  return {
    async apply(pins, resolutions, { minAge, now }) {
      const result = new Map(resolutions);
      if (minAge <= 0) return result;
      const cutoff = new Date(now.getTime() - minAge);
      const withHistory: PinnedOccurrence[] = [];
      // Moved pins are looked at concurrently (each one's history and build time are registry requests), a few at once.
      const limit = pLimit(LOOKUP_CONCURRENCY);
      const moved = [...groupPins(pins)].flatMap(([key, occurrences]) => {
        const resolution = resolutions.get(key);
        const ref = occurrences[0]!.reference;
        return resolution?.ok && resolution.current !== ref.digest ? [{ key, occurrences, ref, current: resolution.current }] : [];
      });
      await Promise.all(
        moved.map(({ key, occurrences, ref, current }) =>
          limit(async () => {
            const name = { registry: ref.registry, repository: ref.repository };
            if (await hasHistory(remembering, name, ref.tag)) {
              for (const occurrence of occurrences) withHistory.push(occurrence);
              return;
            }
            const created = await builtAt(name, current);
            if (created && created.getTime() > cutoff.getTime()) {
              const eligible = new Date(created.getTime() + minAge);
              result.set(key, {
                ok: false,
                skip: true,
                reason: `${COOLDOWN_REASON}the new digest was built ${created.toISOString()}; proposed from ${eligible.toISOString()}`,
              });
            }
          }),
        ),
      );
      if (withHistory.length > 0) {
        const settled = await resolvePins(withHistory, follower, { before: { time: cutoff, registry: remembering } });
        for (const [key, resolution] of settled) {
          const tooYoung = !resolution.ok && resolution.noHistoryBefore === true;
          result.set(
            key,
            tooYoung ? { ok: false, skip: true, reason: `${COOLDOWN_REASON}the tag has no digest older than ${cutoff.toISOString()} yet` } : resolution,
          );
        }
      }
      return result;
    },
  };
}

async function hasHistory(registry: Registry, name: ImageName, tag: string): Promise<boolean> {
  // NO_TAG_HISTORY is the usual answer; any other failure also falls back to the image's build time.
  return registry.tagHistory(name, tag).then(
    () => true,
    () => false,
  );
}
