import type { ProbotOctokit } from "probot";
import type { ConfigProblem } from "../config/problems.js";
import { CONFIG_PATH } from "../config/schema.js";
import { code, inline } from "./pull-request-text.js";
import type { RepositoryRef } from "./publish.js";

export const CONFIG_ISSUE_TITLE = "digesta: configuration error";
const MARKER = "<!-- digesta:config-error -->";
const MAX_PROBLEMS = 50;

/** How to find digesta's own issues: its bot login where known narrows the search to what it opened. */
export interface IssueAuthor {
  readonly login?: string;
}

/**
 * Opens (or rewrites) the one configuration-error issue of a repository, listing what is wrong line by line.
 * Returns the issue number.
 */
export async function reportConfigProblems(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  problems: readonly ConfigProblem[],
  author: IssueAuthor = {},
): Promise<number> {
  const body = configIssueBody(problems);
  const existing = await findConfigIssue(octokit, repository, author);
  if (existing) {
    if (existing.body !== body) await octokit.rest.issues.update({ ...repository, issue_number: existing.number, body });
    return existing.number;
  }
  const created = await octokit.rest.issues.create({ ...repository, title: CONFIG_ISSUE_TITLE, body });
  return created.data.number;
}

/** Closes the configuration-error issue, if one is open, saying the file is valid again. */
export async function closeConfigIssue(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  author: IssueAuthor = {},
  atCommit?: string,
): Promise<number | undefined> {
  const existing = await findConfigIssue(octokit, repository, author);
  if (!existing) return undefined;
  await octokit.rest.issues.createComment({
    ...repository,
    issue_number: existing.number,
    body: `The configuration is valid again${atCommit ? ` as of ${atCommit.slice(0, 7)}` : ""}: closing. digesta runs on this repository again.`,
  });
  await octokit.rest.issues.update({ ...repository, issue_number: existing.number, state: "closed", state_reason: "completed" });
  return existing.number;
}

export function configIssueBody(problems: readonly ConfigProblem[]): string {
  const lines = problems.slice(0, MAX_PROBLEMS).map(problemLine);
  if (problems.length > MAX_PROBLEMS) lines.push(`- … and ${problems.length - MAX_PROBLEMS} more`);
  return [
    MARKER,
    `digesta cannot read its configuration, so it does not update digests in this repository until it is fixed:`,
    "",
    ...lines,
    "",
    `Fix \`${CONFIG_PATH}\` on the default branch (or the file it extends); digesta closes this issue on its next run ` +
      "once the configuration is valid. Every field is optional: an empty file means the defaults.",
  ].join("\n");
}

/** The file and field as code, the message as escaped text: a key name or value from the file cannot inject Markdown. */
export function problemLine(problem: ConfigProblem): string {
  const where = [problem.file ? code(problem.file) : undefined, problem.line !== undefined ? `line ${problem.line}` : undefined]
    .filter(Boolean)
    .join(" ");
  const field = problem.field ? `${code(problem.field)}: ` : "";
  return `- ${where ? `${where}, ` : ""}${field}${inline(problem.message)}`;
}

async function findConfigIssue(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  author: IssueAuthor,
): Promise<{ number: number; body: string } | undefined> {
  const issues = await octokit.rest.issues.listForRepo({
    ...repository,
    state: "open",
    per_page: 100,
    ...(author.login ? { creator: author.login } : {}),
  });
  const found = issues.data.find((issue) => !issue.pull_request && issue.title === CONFIG_ISSUE_TITLE && issue.body?.startsWith(MARKER));
  return found ? { number: found.number, body: found.body ?? "" } : undefined;
}
