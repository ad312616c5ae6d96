import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import { BRANCH_PREFIX, PIN_BRANCH } from "../policy/grouping.js";
import { PULL_REQUEST_MARKER, proposalIdOf } from "./pull-request-text.js";

export interface RepositoryRef {
  readonly owner: string;
  readonly repo: string;
}

/** The default branch's head that the scan read and that every digesta commit goes on top of. */
export interface BaseCommit {
  readonly branch: string;
  readonly sha: string;
  readonly treeSha: string;
}

export interface ProposedFile {
  readonly content: Uint8Array;
  readonly executable: boolean;
}

/**
 * One pull request to be, on its own branch: the new content of each file it changes and how to word it. The digest
 * updates of a group are one; the pins of references written without a digest (`pin: true`) are another.
 */
export interface Proposal {
  readonly branch: string;
  /** A key for each change proposed (`updateKey` of a move): none when there are only failures to tell. */
  readonly changes: readonly string[];
  /** Path → new bytes. */
  readonly files: ReadonlyMap<string, ProposedFile>;
  /** The words for what the commit changes once `leftOut` files are taken out of it. */
  readonly describe: (leftOut: readonly string[]) => ProposalText;
}

/** A pull request's title and body, and what the commit makes: only changes in the files it commits. */
export interface ProposalText {
  readonly title: string;
  readonly body: string;
  /** One line per change the commit makes, for its message. */
  readonly commitLines: readonly string[];
  /** What is proposed, whatever the wording: a person who closed the same proposal is not asked again. */
  readonly id: string;
  /** Keys of the changes proposed in left-out files only: listed apart in the body, never counted as made. */
  readonly notMoved: readonly string[];
}

export interface PublishOptions {
  readonly labels: readonly string[];
  readonly reviewers: readonly string[];
  readonly teamReviewers: readonly string[];
  /** False: `.github/workflows/` files are left out. Undefined: try, and leave them out if GitHub refuses. */
  readonly canWriteWorkflows: boolean | undefined;
  /** What the configuration groups by now, to say why a pull request of another grouping is closed. */
  readonly grouping: "all" | "image";
  /** Whether the configuration asks for the pin pull request, to say why one is closed. */
  readonly pin: boolean;
  readonly log: Logger;
}

/** `notMoved`: updates (by `updateKey`) whose every place is in a file left out of the commit. */
export type PublishOutcome =
  | {
      readonly kind: "created" | "updated" | "unchanged";
      readonly branch: string;
      readonly number: number;
      readonly pushed: boolean;
      readonly notMoved?: readonly string[];
    }
  | { readonly kind: "left-alone"; readonly branch: string; readonly number?: number; readonly reason: string }
  | { readonly kind: "skipped"; readonly branch: string; readonly reason: string; readonly notMoved?: readonly string[] }
  | { readonly kind: "closed"; readonly branch: string; readonly number: number; readonly reason: string };

const FINGERPRINT = /^Digesta-Fingerprint: ([0-9a-f]{16,64})$/m;
const WORKFLOWS = ".github/workflows/";
const WORKFLOWS_ONLY = "every file to change is a workflow, and the app may not change workflows";
const LEFT_ALONE_MARKER = (sha: string) => `<!-- digesta:left-alone ${sha} -->`;

interface OpenPull {
  readonly number: number;
  readonly title: string;
  readonly body: string | null;
  readonly branch: string;
  /** The branch's head as the pull request list gave it (it may lag a push by a moment). */
  readonly headSha?: string;
}

/**
 * Makes GitHub match the proposals: one branch and one open pull request per group, each a single commit on the
 * base made through the Git data API. Idempotent: an open pull request is updated in place, nothing is pushed when
 * the commit would be the same, a pull request whose group has nothing stale any more is closed with a comment, and a
 * branch with commits digesta did not make is left as it is (with a comment saying so).
 */
export async function publishProposals(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  base: BaseCommit,
  proposals: readonly Proposal[],
  options: PublishOptions,
): Promise<PublishOutcome[]> {
  const open = await openDigestaPulls(octokit, repository);
  const outcomes: PublishOutcome[] = [];
  const wanted = new Set(proposals.map((p) => p.branch));
  for (const proposal of proposals) {
    const pull = open.get(proposal.branch);
    if (proposal.changes.length === 0) {
      // Only failures: nothing known to change, and the open pull request (if any) may still be right.
      if (pull) outcomes.push({ kind: "unchanged", branch: pull.branch, number: pull.number, pushed: false });
      continue;
    }
    outcomes.push(await publishOne(octokit, repository, base, proposal, pull, options));
  }
  for (const pull of open.values()) {
    if (wanted.has(pull.branch)) continue;
    outcomes.push(await closeObsolete(octokit, repository, base, pull, options));
  }
  return outcomes;
}

async function publishOne(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  base: BaseCommit,
  proposal: Proposal,
  pull: OpenPull | undefined,
  options: PublishOptions,
): Promise<PublishOutcome> {
  const { branch } = proposal;
  const log = options.log.child({ branch });
  const isWorkflow = (path: string) => path.startsWith(WORKFLOWS);
  let leftOut = options.canWriteWorkflows === false ? [...proposal.files.keys()].filter(isWorkflow).sort() : [];
  let files = new Map([...proposal.files].filter(([path]) => !leftOut.includes(path)));
  const allWorkflows = { kind: "skipped", branch, reason: WORKFLOWS_ONLY, notMoved: proposal.changes } as const;
  if (files.size === 0) return allWorkflows;
  let text = proposal.describe(leftOut);

  const head = await branchHead(octokit, repository, branch, pull?.headSha);
  const lastClosed = pull ? undefined : await lastClosedPull(octokit, repository, branch);
  if (head && !head.ours) {
    // Someone's commits are theirs while their pull request is open. Once it is closed or merged (GitHub keeps the
    // branch by default), the branch is digesta's again, as its comment promised: reset it and propose afresh.
    const open = pull?.number ?? (await openPullOf(octokit, repository, branch));
    if (open !== undefined || !lastClosed) {
      const reason = `${branch} has commits digesta did not make`;
      if (open !== undefined) await commentOnce(octokit, repository, open, LEFT_ALONE_MARKER(head.sha), leftAloneComment(branch, head.sha));
      log.info({ head: head.sha }, "branch has commits by someone else; left as it is");
      return { kind: "left-alone", branch, ...(open !== undefined ? { number: open } : {}), reason };
    }
    log.info({ head: head.sha, pull: lastClosed.number }, "branch with someone's commits has no open pull request any more; resetting it");
  }

  if (lastClosed && closedByPerson(lastClosed, text)) {
    return { kind: "skipped", branch, reason: "a person closed the pull request proposing these digests" };
  }

  let pushed = false;
  let fingerprint = fingerprintOf(base, files);
  if (head?.fingerprint !== fingerprint) {
    // About to replace the branch's commit: make sure the head read from the pull request list is still the
    // branch's, so that a push made a moment ago (which the list may not show yet) is never overwritten.
    if (pull?.headSha !== undefined && (await refSha(octokit, repository, branch)) !== pull.headSha) {
      return publishOne(octokit, repository, base, proposal, { ...pull, headSha: undefined }, options);
    }
    try {
      await pushCommit(octokit, repository, base, branch, files, fingerprint, text, head !== undefined);
    } catch (error) {
      const workflowFiles = [...files.keys()].filter(isWorkflow);
      if (!refusedForWorkflows(error) || workflowFiles.length === 0) throw error;
      log.warn("GitHub refused to change workflow files without the Workflows permission; leaving them out");
      leftOut = [...leftOut, ...workflowFiles].sort();
      files = new Map([...files].filter(([path]) => !isWorkflow(path)));
      if (files.size === 0) return allWorkflows;
      text = proposal.describe(leftOut);
      fingerprint = fingerprintOf(base, files);
      if (head?.fingerprint !== fingerprint) {
        await pushCommit(octokit, repository, base, branch, files, fingerprint, text, head !== undefined);
      }
    }
    pushed = head?.fingerprint !== fingerprint;
  }

  const { title, body } = text;
  const notMoved = text.notMoved.length > 0 ? { notMoved: text.notMoved } : {};
  if (pull) {
    if (pull.title !== title || pull.body !== body) {
      await octokit.rest.pulls.update({ ...repository, pull_number: pull.number, title, body });
      return { kind: "updated", branch, number: pull.number, pushed, ...notMoved };
    }
    return { kind: pushed ? "updated" : "unchanged", branch, number: pull.number, pushed, ...notMoved };
  }
  let number: number;
  try {
    number = (await octokit.rest.pulls.create({ ...repository, head: branch, base: base.branch, title, body })).data.number;
  } catch (error) {
    // GitHub refuses a second open pull request for a branch: digesta's own, whose body someone edited so that it no
    // longer starts with the marker. The branch is digesta's (checked above): take the pull request back in place.
    const existing = statusOf(error) === 422 ? await openPullOf(octokit, repository, branch) : undefined;
    if (existing === undefined) throw error;
    await octokit.rest.pulls.update({ ...repository, pull_number: existing, title, body });
    log.info({ pull: existing }, "took back a pull request whose body had lost digesta's marker");
    return { kind: "updated", branch, number: existing, pushed, ...notMoved };
  }
  await decorate(octokit, repository, number, options, log);
  log.info({ pull: number }, "opened pull request");
  return { kind: "created", branch, number, pushed, ...notMoved };
}

async function pushCommit(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  base: BaseCommit,
  branch: string,
  files: ReadonlyMap<string, ProposedFile>,
  fingerprint: string,
  text: ProposalText,
  branchExists: boolean,
): Promise<void> {
  const tree = [];
  for (const [path, file] of files) {
    // Keep the mode: an executable script stays executable.
    const mode = file.executable ? ("100755" as const) : ("100644" as const);
    const text = inlineText(file.content);
    if (text !== undefined) {
      // Text rides in the tree itself: no blob request per file.
      tree.push({ path, mode, type: "blob" as const, content: text });
      continue;
    }
    const blob = await octokit.rest.git.createBlob({ ...repository, content: Buffer.from(file.content).toString("base64"), encoding: "base64" });
    tree.push({ path, mode, type: "blob" as const, sha: blob.data.sha });
  }
  const created = await octokit.rest.git.createTree({ ...repository, base_tree: base.treeSha, tree });
  const commit = await octokit.rest.git.createCommit({
    ...repository,
    message: commitMessage(text, fingerprint),
    tree: created.data.sha,
    parents: [base.sha],
  });
  if (branchExists) {
    await octokit.rest.git.updateRef({ ...repository, ref: `heads/${branch}`, sha: commit.data.sha, force: true });
  } else {
    await octokit.rest.git.createRef({ ...repository, ref: `refs/heads/${branch}`, sha: commit.data.sha });
  }
}

/**
 * The file as a string when a tree entry's `content` (sent as JSON, stored as UTF-8) gives back exactly these bytes:
 * valid UTF-8 without NUL. Anything else (Latin-1, binary) goes as a base64 blob, byte for byte.
 */
export function inlineText(content: Uint8Array): string | undefined {
  if (content.includes(0) || !isUtf8(content)) return undefined;
  return Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString("utf8");
}

/** The title and one line per change the commit makes: changes left out with their files are not listed. */
function commitMessage(text: ProposalText, fingerprint: string): string {
  const lines = text.commitLines.map((line) => `- ${line}`);
  const shown = lines.length > 50 ? [...lines.slice(0, 50), `- … and ${lines.length - 50} more`] : lines;
  return `${text.title}\n\n${shown.join("\n")}\n\nDigesta-Fingerprint: ${fingerprint}\n`;
}

/** Identifies a commit's content: the base it goes on and every file's new bytes. */
function fingerprintOf(base: BaseCommit, files: ReadonlyMap<string, ProposedFile>): string {
  const hash = createHash("sha256").update(base.sha);
  for (const path of [...files.keys()].sort()) {
    const file = files.get(path)!;
    hash.update(`\0${path}\0${file.executable ? "x" : "-"}`).update(createHash("sha256").update(file.content).digest("hex"));
  }
  return hash.digest("hex").slice(0, 32);
}

/** The branch's head commit (`known`: its sha, when already known), and whether it is digesta's. */
async function branchHead(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  branch: string,
  known?: string,
): Promise<{ sha: string; ours: boolean; fingerprint?: string } | undefined> {
  const sha = known ?? (await refSha(octokit, repository, branch));
  if (sha === undefined) return undefined;
  const commit = await octokit.rest.git.getCommit({ ...repository, commit_sha: sha });
  const fingerprint = FINGERPRINT.exec(commit.data.message)?.[1];
  // Digesta's branches hold exactly one commit of its own on top of the base: anything else is someone's work.
  const ours = fingerprint !== undefined && commit.data.parents.length === 1;
  return { sha, ours, ...(fingerprint ? { fingerprint } : {}) };
}

async function refSha(octokit: ProbotOctokit, repository: RepositoryRef, branch: string): Promise<string | undefined> {
  try {
    return (await octokit.rest.git.getRef({ ...repository, ref: `heads/${branch}` })).data.object.sha;
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

async function openDigestaPulls(octokit: ProbotOctokit, repository: RepositoryRef): Promise<Map<string, OpenPull>> {
  const pulls = await octokit.paginate(octokit.rest.pulls.list, { ...repository, state: "open", per_page: 100 });
  const found = new Map<string, OpenPull>();
  for (const pull of pulls) {
    if (!fromDigestaBranch(pull.head, repository)) continue;
    if (!pull.body?.startsWith(PULL_REQUEST_MARKER)) continue;
    found.set(pull.head.ref, { number: pull.number, title: pull.title, body: pull.body ?? null, branch: pull.head.ref, ...(pull.head.sha ? { headSha: pull.head.sha } : {}) });
  }
  return found;
}

/** Whether a pull request's head is one of digesta's branches of this repository (not a fork's branch of that name). */
export function fromDigestaBranch(head: { readonly ref: string; readonly repo?: { readonly full_name?: string } | null }, repository: RepositoryRef): boolean {
  const sameRepository = head.repo?.full_name?.toLowerCase() === `${repository.owner}/${repository.repo}`.toLowerCase();
  return sameRepository && head.ref.startsWith(BRANCH_PREFIX);
}

/** The open pull request of one of digesta's branches, whatever its body says. */
async function openPullOf(octokit: ProbotOctokit, repository: RepositoryRef, branch: string): Promise<number | undefined> {
  const { data } = await octokit.rest.pulls.list({ ...repository, state: "open", head: `${repository.owner}:${branch}`, per_page: 1 });
  return data[0]?.number;
}

interface ClosedPull {
  readonly number: number;
  readonly body: string | null;
  readonly merged_at: string | null;
}

/** The most recently updated closed (or merged) pull request of one of digesta's branches. */
async function lastClosedPull(octokit: ProbotOctokit, repository: RepositoryRef, branch: string): Promise<ClosedPull | undefined> {
  const closed = await octokit.rest.pulls.list({
    ...repository,
    state: "closed",
    head: `${repository.owner}:${branch}`,
    sort: "updated",
    direction: "desc",
    per_page: 1,
  });
  return closed.data[0];
}

/** True when the branch's last pull request proposed exactly this and a person closed it unmerged. */
function closedByPerson(last: ClosedPull, text: ProposalText): boolean {
  if (last.merged_at) return false;
  return proposalIdOf(last.body) === text.id;
}

async function closeObsolete(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  base: BaseCommit,
  pull: OpenPull,
  options: PublishOptions,
): Promise<PublishOutcome> {
  const otherGrouping =
    (options.grouping === "all" && pull.branch.startsWith(`${BRANCH_PREFIX}image/`)) ||
    (options.grouping === "image" && !pull.branch.startsWith(`${BRANCH_PREFIX}image/`));
  const reason = pull.branch === PIN_BRANCH
    ? options.pin
      ? `nothing is left to pin: every reference it pinned has a digest on \`${base.branch}\` (${base.sha.slice(0, 7)})`
      : "the configuration no longer asks for it (`pin` is off)"
    : otherGrouping
    ? `the configuration now groups updates by \`${options.grouping}\`, so this pull request is replaced`
    : `nothing it changes is stale any more: every digest it moves is already up to date on \`${base.branch}\` (${base.sha.slice(0, 7)})`;
  await octokit.rest.issues.createComment({
    ...repository,
    issue_number: pull.number,
    body: `Closing: ${reason}.`,
  });
  await octokit.rest.pulls.update({ ...repository, pull_number: pull.number, state: "closed" });
  const head = await branchHead(octokit, repository, pull.branch);
  if (head?.ours) {
    await octokit.rest.git.deleteRef({ ...repository, ref: `heads/${pull.branch}` }).catch(() => undefined);
  }
  options.log.info({ branch: pull.branch, pull: pull.number }, "closed obsolete pull request");
  return { kind: "closed", branch: pull.branch, number: pull.number, reason };
}

async function decorate(octokit: ProbotOctokit, repository: RepositoryRef, number: number, options: PublishOptions, log: Logger): Promise<void> {
  if (options.labels.length > 0) {
    await octokit.rest.issues
      .addLabels({ ...repository, issue_number: number, labels: [...options.labels] })
      .catch((error: unknown) => log.warn({ status: statusOf(error) }, "could not add labels"));
  }
  if (options.reviewers.length > 0 || options.teamReviewers.length > 0) {
    await octokit.rest.pulls
      .requestReviewers({
        ...repository,
        pull_number: number,
        reviewers: [...options.reviewers],
        team_reviewers: [...options.teamReviewers],
      })
      .catch((error: unknown) => log.warn({ status: statusOf(error) }, "could not request reviewers (not collaborators?)"));
  }
}

async function commentOnce(octokit: ProbotOctokit, repository: RepositoryRef, number: number, marker: string, body: string): Promise<void> {
  let seen = false;
  let pages = 0;
  for await (const page of octokit.paginate.iterator(octokit.rest.issues.listComments, { ...repository, issue_number: number, per_page: 100 })) {
    if (page.data.some((comment) => comment.body?.includes(marker))) {
      seen = true;
      break;
    }
    if (++pages >= 10) break;
  }
  if (!seen) await octokit.rest.issues.createComment({ ...repository, issue_number: number, body: `${marker}\n${body}` });
}

function leftAloneComment(branch: string, sha: string): string {
  return (
    `Someone pushed to \`${branch}\` (now at ${sha.slice(0, 7)}), so digesta leaves this branch as it is and no longer ` +
    "updates this pull request: it never throws away commits it did not make. Merge or close this pull request, or " +
    "delete the branch, and digesta opens a fresh one on its next run."
  );
}

function refusedForWorkflows(error: unknown): boolean {
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : "";
  return (status === 403 || status === 422 || status === 404) && /workflow/i.test(message);
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : undefined;
}
