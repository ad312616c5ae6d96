import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import { loadConfigOrDefaults } from "../config/load.js";
import { CONFIG_PATH, type DigestaConfig } from "../config/schema.js";
import { PACKAGE_CHANGES_MARKER, renderPackageChangesComment } from "../conversation/comment-text.js";
import { findDigestMoves, type DigestMove } from "../conversation/moves.js";
import { findMarkedComment, upsertMarkedComment, type UpsertOutcome } from "../github/comment.js";
import { readPullRequestFiles, type PullFileOptions } from "../github/pull-files.js";
import type { RepositoryRef } from "../github/publish.js";
import { createIgnoreMatcher } from "../policy/ignore.js";
import { tagKey } from "../reference/format.js";
import { packageDiffs, unavailableDiff, type DiffRequest } from "../engine/package-diffs.js";
import { verdictKey, verdictsOf } from "../policy/signatures.js";
import type { SignatureSource } from "../verify/source.js";
import type { RegistrySession } from "./session.js";

export interface PackageChangesLimits extends Pick<PullFileOptions, "maxFiles" | "maxFileSize"> {
  /** Moved images compared per pull request (each comparison may download layers). Default 20. */
  readonly maxImages?: number;
}

export interface PackageChangesContext {
  readonly octokit: ProbotOctokit;
  readonly repository: RepositoryRef;
  readonly number: number;
  readonly session: RegistrySession;
  readonly log: Logger;
  readonly botLogin?: string;
  readonly limits?: PackageChangesLimits;
}

export type PackageChangesOutcome =
  | { readonly status: "skipped"; readonly reason: string }
  | { readonly status: "commented"; readonly moves: number; readonly comment: UpsertOutcome };

const DEFAULT_MAX_IMAGES = 20;

/**
 * The package-changes comment of one pull request, made to match its head now: the digests it moves (from the two
 * versions of each changed file), the package diff of each moved image, in one comment found again by its marker
 * and edited in place. A pull request that never moved anything gets no comment; one that no longer does gets its
 * comment turned into a line saying so. It reads the pull request afresh, so a run merged after several pushes
 * describes the last.
 */
export async function updatePackageChanges(context: PackageChangesContext): Promise<PackageChangesOutcome> {
  const { octokit, repository, number, log } = context;
  const { data: pull } = await octokit.rest.pulls.get({ ...repository, pull_number: number });
  if (pull.state !== "open") return { status: "skipped", reason: "the pull request is closed" };
  const config = await loadConfigOrDefaults(octokit, repository, (problems) =>
    log.info({ problems: problems.length }, "configuration is broken; package changes use the defaults"),
  );
  if (!config.enabled) return { status: "skipped", reason: "digesta is turned off for this repository" };

  const read = await readPullRequestFiles(
    octokit,
    repository,
    { number, baseSha: pull.base.sha, headSha: pull.head.sha },
    {
      include: config.paths.include,
      exclude: config.paths.exclude,
      ...(context.limits?.maxFiles !== undefined ? { maxFiles: context.limits.maxFiles } : {}),
      ...(context.limits?.maxFileSize !== undefined ? { maxFileSize: context.limits.maxFileSize } : {}),
    },
  );
  const moves = findDigestMoves(read.files, { skip: createIgnoreMatcher(config.ignore) });
  const notes = [
    ...(read.capped ? [`This pull request changes more than ${read.listed} files; digesta read only the first ${read.listed}.`] : []),
    ...read.unread.map((file) => `${file.path} was not read: ${file.reason}.`),
  ];

  const existing = await findMarkedComment(octokit, repository, number, PACKAGE_CHANGES_MARKER, context.botLogin);
  if (moves.length === 0 && !existing) return { status: "skipped", reason: "the pull request moves no digest" };

  const maxImages = context.limits?.maxImages ?? DEFAULT_MAX_IMAGES;
  const compared = moves.slice(0, maxImages);
  const requests = compared.map((move) => diffRequest(move, config));
  const differ = context.session.diff;
  const diffs = !config.diff.enabled
    ? requests.map((request) => unavailableDiff(request, []))
    : differ
      ? await packageDiffs(requests, differ, log)
      : requests.map((request) => unavailableDiff(request, ["package diff unavailable in this installation of digesta"]));
  const signatures = await movedVerdicts(compared, context.session.signatures(config.verify));
  const body = renderPackageChangesComment({
    headSha: pull.head.sha,
    diffs,
    ...(signatures ? { signatures } : {}),
    notDiffed: moves.slice(maxImages).map((move) => tagKey(move.image, move.toTag)),
    ...(config.diff.enabled ? {} : { diffOff: `The package diff is turned off for this repository (diff.enabled: false in ${CONFIG_PATH}).` }),
    notes,
  });
  const comment = await upsertMarkedComment(octokit, repository, number, PACKAGE_CHANGES_MARKER, body, {
    ...(context.botLogin ? { botLogin: context.botLogin } : {}),
    existing: existing ?? null,
  });
  log.info({ pull: number, moves: moves.length, comment, filesRead: read.files.length }, "package changes comment");
  return { status: "commented", moves: moves.length, comment };
}

/** What to ask the differ for one move; the tag shown says when the pull request changes it too. */
function diffRequest(move: DigestMove, config: DigestaConfig): DiffRequest {
  const shownTag = move.fromTag === move.toTag ? move.toTag : `${move.fromTag} → ${move.toTag}`;
  return { image: move.image, tag: move.toTag, from: move.from, to: move.to, platform: config.diff.platform, shownTag };
}

/** The verdict on each digest the pull request moves to that the repository's `verify` rules name; none without rules. */
async function movedVerdicts(moves: readonly DigestMove[], source: SignatureSource | undefined) {
  if (!source) return undefined;
  const moved = moves.map((move) => ({ key: verdictKey(move.image, move.to), image: move.image, digest: move.to }));
  return { moved, verdicts: await verdictsOf(moved, source) };
}
