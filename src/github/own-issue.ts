import type { ProbotOctokit } from "probot";
import type { RepositoryRef } from "./publish.js";

/** How to find digesta's own issues: its bot login where known narrows the search to what it opened. */
export interface IssueAuthor {
  readonly login?: string;
}

/** One kind of issue digesta keeps open while something needs a person: found again by its title and marker. */
export interface OwnIssueKind {
  readonly title: string;
  /** The first line of every body of this kind: a person's issue with the same title is never taken for it. */
  readonly marker: string;
}

/** Opens the one issue of this kind, or rewrites its body when it changed. Returns its number. */
export async function openOwnIssue(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  kind: OwnIssueKind,
  body: string,
  author: IssueAuthor = {},
): Promise<number> {
  const existing = await findOwnIssue(octokit, repository, kind, author);
  if (existing) {
    if (existing.body !== body) await octokit.rest.issues.update({ ...repository, issue_number: existing.number, body });
    return existing.number;
  }
  const created = await octokit.rest.issues.create({ ...repository, title: kind.title, body });
  return created.data.number;
}

/** Closes the issue of this kind, if one is open, with `comment` saying why. Returns its number. */
export async function closeOwnIssue(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  kind: OwnIssueKind,
  comment: string,
  author: IssueAuthor = {},
): Promise<number | undefined> {
  const existing = await findOwnIssue(octokit, repository, kind, author);
  if (!existing) return undefined;
  await octokit.rest.issues.createComment({ ...repository, issue_number: existing.number, body: comment });
  await octokit.rest.issues.update({ ...repository, issue_number: existing.number, state: "closed", state_reason: "completed" });
  return existing.number;
}

async function findOwnIssue(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  kind: OwnIssueKind,
  author: IssueAuthor,
): Promise<{ number: number; body: string } | undefined> {
  const issues = await octokit.rest.issues.listForRepo({
    ...repository,
    state: "open",
    per_page: 100,
    ...(author.login ? { creator: author.login } : {}),
  });
  const found = issues.data.find((issue) => !issue.pull_request && issue.title === kind.title && issue.body?.startsWith(kind.marker));
  return found ? { number: found.number, body: found.body ?? "" } : undefined;
}
