import type { CliContext } from "../context.js";
import { writeJson } from "../context.js";
import { ExitCode, UsageError } from "../errors.js";

export interface GitHubOptions {
  readonly repo: string;
  readonly apiUrl?: string;
  readonly json?: boolean;
}

/** `digesta github --repo OWNER/NAME`: the app's refresh of one repository, with `GITHUB_TOKEN`. */
export async function githubCommand(context: CliContext, options: GitHubOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(options.repo);
  if (!match) throw new UsageError(`--repo "${options.repo}" is not OWNER/NAME`);
  const token = env["GITHUB_TOKEN"];
  if (!token) throw new UsageError("GITHUB_TOKEN is not set; give a token that may write contents, pull requests and issues");
  // Loaded here so that the other commands do not pay for Probot at start-up.
  const { runOneShot } = await import("../../app/one-shot.js");
  const outcome = await runOneShot({
    owner: match[1]!,
    repo: match[2]!,
    token,
    log: context.logger,
    ...(options.apiUrl ? { baseUrl: options.apiUrl } : {}),
  });
  if (options.json) {
    writeJson(context, outcome);
  } else if (outcome.status === "done") {
    const leftOut = outcome.leftOut > 0 ? `, ${outcome.leftOut} left out (workflows need the Workflows permission)` : "";
    context.stdout.write(`${outcome.updates} update(s), ${outcome.upToDate} up to date, ${outcome.failed} failed${leftOut}\n`);
    for (const pull of outcome.pullRequests) {
      context.stdout.write(`${pull.kind}\t${pull.branch}${"number" in pull && pull.number ? `\t#${pull.number}` : ""}${"reason" in pull ? `\t${pull.reason}` : ""}\n`);
    }
  } else if (outcome.status === "config-error") {
    context.stdout.write(`configuration error: ${outcome.problems.length} problem(s); see the "digesta: configuration error" issue\n`);
  } else {
    context.stdout.write(`${outcome.status}\n`);
  }
  if (outcome.status === "config-error") return ExitCode.Error;
  return outcome.status === "done" && outcome.failed > 0 ? ExitCode.Error : ExitCode.Ok;
}
