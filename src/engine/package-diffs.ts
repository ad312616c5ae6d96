import pLimit from "p-limit";
import type { Logger } from "pino";
import type { ImageDiff } from "../diff/types.js";
import { errorLine } from "../errors/error-line.js";
import { imageKey } from "../reference/format.js";
import type { ImageUpdate } from "../plan/types.js";
import type { Digest, ImageName, Platform } from "../reference/types.js";

/** The package diff of one image between two digests, for one platform. */
export type ImageDiffer = (image: ImageName, tag: string, from: Digest, to: Digest, platform: Platform) => Promise<ImageDiff>;

/** One image's move to describe: what the differ is asked, and the tag as the text should show it. */
export interface DiffRequest {
  readonly image: ImageName;
  readonly tag: string;
  readonly from: Digest;
  readonly to: Digest;
  readonly platform: Platform;
  /** The tag shown (e.g. `1.0 → 1.1` when a pull request changes it too); default `tag`. */
  readonly shownTag?: string;
  /**
   * The platform of a platform pin, known from following it. The diff of two single-platform images cannot tell
   * their platform without reading their configs; this labels it.
   */
  readonly pinnedPlatform?: Platform;
}

/** What to diff for a planned update: a platform pin's own platform, else `platform` for indexes. */
export function diffRequestOf(update: ImageUpdate, platform: Platform): DiffRequest {
  const { image, tag, from, to } = update;
  return update.platform ? { image, tag, from, to, platform: update.platform, pinnedPlatform: update.platform } : { image, tag, from, to, platform };
}

const CONCURRENCY = 4;

/** An image's section with no package list, only `warnings` saying why. */
export function unavailableDiff(request: DiffRequest, warnings: readonly string[]): ImageDiff {
  return {
    image: imageKey(request.image),
    tag: request.shownTag ?? request.tag,
    from: request.from,
    to: request.to,
    platform: request.platform,
    packages: { added: [], removed: [], changed: [] },
    warnings: [...warnings],
    source: { previous: "none", current: "none" },
    packagesUnknown: true,
  };
}

/**
 * One package diff per request, a few at once; an image whose packages cannot be read gets a section saying so,
 * never a failed run.
 */
export function packageDiffs(requests: readonly DiffRequest[], differ: ImageDiffer, log: Logger): Promise<ImageDiff[]> {
  const limit = pLimit(CONCURRENCY);
  return Promise.all(
    requests.map((request) =>
      limit(async (): Promise<ImageDiff> => {
        try {
          const diff = await differ(request.image, request.tag, request.from, request.to, request.platform);
          return {
            ...diff,
            ...(request.shownTag !== undefined ? { tag: request.shownTag } : {}),
            ...(request.pinnedPlatform && !diff.platform ? { platform: request.pinnedPlatform } : {}),
          };
        } catch (error) {
          const reason = errorLine(error);
          log.info({ image: imageKey(request.image), reason }, "package diff unavailable");
          return unavailableDiff(request, [`could not read the packages: ${reason}`]);
        }
      }),
    ),
  );
}
