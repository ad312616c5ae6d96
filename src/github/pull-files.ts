import picomatch from "picomatch";
import pLimit from "p-limit";
import type { ProbotOctokit } from "probot";
import type { FileVersions } from "../conversation/moves.js";
import type { RepositoryRef } from "./publish.js";

export interface PullRequestRef {
  readonly number: number;
  readonly baseSha: string;
  readonly headSha: string;
}

export interface PullFileOptions {
  /** Files of the pull request's list read at most (GitHub lists up to 3,000). Default 300. */
  readonly maxFiles?: number;
  /** Largest file read, in bytes. Default (and GitHub's own limit for file content in one answer) 1 MiB. */
  readonly maxFileSize?: number;
  /** fast-glob style patterns of the configuration's `paths`. */
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
}

export interface PullFiles {
  /** Both versions of each changed file that may move a pin. */
  readonly files: FileVersions[];
  /** Files the pull request changes, as far as the list went. */
  readonly listed: number;
  /** True when the list was cut at `maxFiles`. */
  readonly capped: boolean;
  /** Files that may move a pin but could not be read, with why. */
  readonly unread: { readonly path: string; readonly reason: string }[];
}

const DEFAULT_MAX_FILES = 300;
const DEFAULT_MAX_FILE_SIZE = 1024 * 1024;
const CONCURRENCY = 8;
const BINARY_SNIFF_LENGTH = 8192;
/** A changed line that carries a digest (a `+`/`-` line of the patch, not a `+++`/`---` header). */
const PIN_LINE = /^[+-](?![+-]{2} ).*@sha256:[0-9a-fA-F]{8}/m;
const ALWAYS_EXCLUDED = ["**/.git/**", "**/node_modules/**"];

/**
 * The two versions of each file a pull request changes that may move a pin: only the changed files are read (the
 * pull request's file list, then each file at the merge base and at the head through the contents API), never the
 * whole repository. A file whose patch shows no changed line with `@sha256:` is not read; a file added or removed
 * by the pull request cannot move a pin; a renamed file is read under its old name on the base side.
 */
export async function readPullRequestFiles(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  pull: PullRequestRef,
  options: PullFileOptions = {},
): Promise<PullFiles> {
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const included = picomatch([...(options.include ?? ["**"])], { dot: true });
  const excluded = picomatch([...ALWAYS_EXCLUDED, ...(options.exclude ?? [])], { dot: true });

  const listed: { filename: string; status: string; previous_filename?: string; patch?: string }[] = [];
  let capped = false;
  pages: for await (const page of octokit.paginate.iterator(octokit.rest.pulls.listFiles, { ...repository, pull_number: pull.number, per_page: 100 })) {
    for (const file of page.data) {
      if (listed.length >= maxFiles) {
        capped = true;
        break pages;
      }
      listed.push(file);
    }
  }

  const candidates = listed.filter(
    (file) =>
      (file.status === "modified" || file.status === "renamed" || file.status === "changed") &&
      included(file.filename) &&
      !excluded(file.filename) &&
      (file.patch === undefined || patchMayMovePin(file.patch)),
  );
  const base = await mergeBase(octokit, repository, pull);
  const unread: { path: string; reason: string }[] = [];
  const files: FileVersions[] = [];
  const limit = pLimit(CONCURRENCY);
  await Promise.all(
    candidates.map((file) =>
      limit(async () => {
        const [before, after] = await Promise.all([
          readFileAt(octokit, repository, file.previous_filename ?? file.filename, base, maxFileSize),
          readFileAt(octokit, repository, file.filename, pull.headSha, maxFileSize),
        ]);
        const problem = typeof before === "object" ? before.reason : typeof after === "object" ? after.reason : undefined;
        if (problem !== undefined) {
          if (problem !== "binary") unread.push({ path: file.filename, reason: problem });
          return;
        }
        files.push({ path: file.filename, base: before as string, head: after as string });
      }),
    ),
  );
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  unread.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { files, listed: listed.length, capped, unread };
}

/** Whether a unified diff adds or removes a line with a digest on it: the only patches that can move a pin. */
export function patchMayMovePin(patch: string): boolean {
  return PIN_LINE.test(patch);
}

/**
 * Where the pull request's branch left its base: the base side of what the pull request changes. (The base branch's
 * head may have moved on since; comparing with it would show the base's own changes as the pull request's.)
 */
async function mergeBase(octokit: ProbotOctokit, repository: RepositoryRef, pull: PullRequestRef): Promise<string> {
  try {
    const { data } = await octokit.rest.repos.compareCommitsWithBasehead({ ...repository, basehead: `${pull.baseSha}...${pull.headSha}`, per_page: 1 });
    return data.merge_base_commit?.sha ?? pull.baseSha;
  } catch {
    return pull.baseSha;
  }
}

/** A file's text at a commit (latin1, as the scanner reads files), or why it was not read. */
async function readFileAt(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  path: string,
  ref: string,
  maxFileSize: number,
): Promise<string | { reason: string }> {
  let data: unknown;
  try {
    ({ data } = await octokit.rest.repos.getContent({ ...repository, path, ref }));
  } catch (error) {
    const status = (error as { status?: number }).status;
    return { reason: status === 404 ? `not found at ${ref.slice(0, 7)}` : `could not be read (${status ?? "network error"})` };
  }
  const file = data as { type?: unknown; size?: unknown; encoding?: unknown; content?: unknown };
  if (Array.isArray(data) || file.type !== "file") return { reason: "not a file" };
  if (typeof file.size !== "number" || file.size > maxFileSize) return { reason: `larger than ${Math.round(maxFileSize / 1024)} KiB; not read` };
  // GitHub sends no content (encoding "none") for files over 1 MiB.
  if (file.encoding !== "base64" || typeof file.content !== "string") return { reason: "too large for GitHub to send its content; not read" };
  const bytes = Buffer.from(file.content, "base64");
  if (bytes.length > maxFileSize) return { reason: `larger than ${Math.round(maxFileSize / 1024)} KiB; not read` };
  if (bytes.subarray(0, BINARY_SNIFF_LENGTH).includes(0)) return { reason: "binary" };
  return bytes.toString("latin1");
}
