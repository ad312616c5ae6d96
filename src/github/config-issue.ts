import type { ConfigProblem } from "../config/problems.js";
import { CONFIG_PATH } from "../config/schema.js";
import { code, inline } from "./pull-request-text.js";
import type { OwnIssueKind, OwnIssues } from "./own-issue.js";

export const CONFIG_ISSUE_TITLE = "digesta: configuration error";
const MARKER = "<!-- digesta:config-error -->";
const CONFIG_ISSUE: OwnIssueKind = { title: CONFIG_ISSUE_TITLE, marker: MARKER };
const MAX_PROBLEMS = 50;

/**
 * Opens (or rewrites) the one configuration-error issue of a repository, listing what is wrong line by line.
 * Returns the issue number.
 */
export function reportConfigProblems(issues: OwnIssues, problems: readonly ConfigProblem[]): Promise<number> {
  return issues.open(CONFIG_ISSUE, configIssueBody(problems));
}

/** Closes the configuration-error issue, if one is open, saying the file is valid again. */
export function closeConfigIssue(issues: OwnIssues, atCommit?: string): Promise<number | undefined> {
  const comment = `The configuration is valid again${atCommit ? ` as of ${atCommit.slice(0, 7)}` : ""}: closing. digesta runs on this repository again.`;
  return issues.close(CONFIG_ISSUE, comment);
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
