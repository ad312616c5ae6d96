import type { ProbotOctokit } from "probot";
import { CONFIG_PATH } from "../config/schema.js";
import { patchMayMovePin } from "../github/pull-files.js";

/** A changed file of a push, as GitHub's compare API lists it (`patch` is missing for large or binary files). */
export interface ChangedFile {
  readonly filename: string;
  readonly previous_filename?: string;
  readonly patch?: string;
}

/** GitHub's compare API lists at most this many files; a list this long may be cut. */
const COMPARE_MAX_FILES = 300;

/** Whether a push from `before` to `after` may have changed pins or the configuration (yes when in doubt). */
export async function pushTouchesPins(octokit: ProbotOctokit, owner: string, repo: string, before: string, after: string): Promise<boolean> {
  if (/^0+$/.test(before)) return true;
  try {
    // The files come whole with the first page whatever its size; `per_page` only pages the commits, not read here.
    const { data } = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${before}...${after}`, per_page: 1 });
    const files = data.files ?? [];
    return pushMayTouchPins(files, files.length < COMPARE_MAX_FILES);
  } catch {
    return true;
  }
}

/**
 * Whether a push to the default branch may have changed a pinned reference or digesta's configuration, from the
 * compare API's files: a changed config file, or an added or removed line with `@sha256:`. When GitHub did not send
 * everything (a file without a patch, a truncated list), it says yes: a needless run costs less than a missed one.
 */
export function pushMayTouchPins(files: readonly ChangedFile[], complete: boolean): boolean {
  if (!complete) return true;
  return files.some(
    (file) =>
      file.filename === CONFIG_PATH ||
      file.previous_filename === CONFIG_PATH ||
      file.patch === undefined ||
      patchMayMovePin(file.patch),
  );
}
