import type { Writable } from "node:stream";
import { pino } from "pino";
import { runOneShot } from "../app/one-shot.js";
import type { RefreshOutcome } from "../app/refresh.js";
import { escapeMarkdown } from "../diff/markdown.js";
import { errorLine } from "../errors/error-line.js";
import { problemLine } from "../github/config-issue.js";
import { REDACTED_PATHS } from "../logging/logger.js";
import { InputError, readInputs, type ActionInputs } from "./inputs.js";
import { annotation, writeOutputs, writeSummary } from "./outputs.js";

/**
 * The GitHub Action (action.yml): the one-shot refresh of `digesta github`, with the workflow's inputs, the step's
 * outputs (pull request URL, counts) and a job summary. Returns the exit code: 1 when the inputs or the configuration
 * are wrong, or some image could not be checked (the pull request for the others is still opened).
 */
export async function runAction(env: NodeJS.ProcessEnv = process.env, out: Writable = process.stdout): Promise<number> {
  let inputs: ActionInputs;
  try {
    inputs = readInputs(env);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    out.write(annotation("error", error.message));
    return 1;
  }
  // The runner shows stdout and stderr alike; JSON lines, so that nothing a registry says can pass for a workflow command.
  const log = pino({ level: inputs.logLevel, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } }, out);
  let outcome: RefreshOutcome;
  try {
    outcome = await runOneShot({
      owner: inputs.owner,
      repo: inputs.repo,
      token: inputs.token,
      baseUrl: inputs.apiUrl,
      configPath: inputs.config,
      dryRun: inputs.dryRun,
      registry: { mirrors: inputs.registryMirrors },
      log,
    });
  } catch (error) {
    out.write(annotation("error", `digesta could not refresh ${inputs.owner}/${inputs.repo}: ${errorLine(error)}`));
    return 1;
  }
  return report(outcome, inputs, env, out);
}

function report(outcome: RefreshOutcome, inputs: ActionInputs, env: NodeJS.ProcessEnv, out: Writable): number {
  const repository = `${inputs.owner}/${inputs.repo}`;
  const counts = outcome.status === "done" ? outcome : { updates: 0, failed: 0, upToDate: 0 };
  const pulls =
    outcome.status === "done"
      ? outcome.pullRequests.flatMap((pull) =>
          pull.kind === "created" || pull.kind === "updated" || pull.kind === "unchanged"
            ? [{ kind: pull.kind, branch: pull.branch, url: `${inputs.serverUrl}/${repository}/pull/${pull.number}` }]
            : [],
        )
      : [];
  writeOutputs(env["GITHUB_OUTPUT"], {
    "pull-request-url": pulls[0]?.url ?? "",
    "pull-request-urls": pulls.map((pull) => pull.url).join("\n"),
    updated: String(counts.updates),
    failed: String(counts.failed),
    "up-to-date": String(counts.upToDate),
  });

  const lines = [`### digesta: ${repository}${inputs.dryRun ? " (dry run: nothing written)" : ""}`, ""];
  if (outcome.status === "config-error") {
    lines.push(`The configuration (\`${inputs.config}\`) is broken:`, "", ...outcome.problems.map(problemLine));
    out.write(annotation("error", `${inputs.config} is broken (${outcome.problems.length} problem(s)); see the job summary`));
  } else if (outcome.status !== "done") {
    lines.push(outcome.status === "disabled" ? "Turned off in the configuration (`enabled: false`)." : "The repository is empty.");
  } else {
    lines.push(`${counts.updates} to update, ${counts.upToDate} up to date, ${counts.failed} could not be checked.`);
    for (const pull of pulls) lines.push(`- ${pull.kind}: ${pull.url} (\`${pull.branch}\`)`);
    for (const pull of outcome.pullRequests) if ("reason" in pull) lines.push(`- ${pull.kind} \`${pull.branch}\`: ${pull.reason}`);
    if (outcome.failures.length > 0) lines.push("", "Could not be checked:", "");
    for (const failure of outcome.failures) {
      // The reason is the registry's or the network's: a proxy's refusal, a certificate, missing credentials.
      out.write(annotation("warning", `${failure.image} could not be checked: ${failure.reason}`));
      lines.push(`- ${escapeMarkdown(failure.image)}: ${escapeMarkdown(failure.reason, 500)}`);
    }
    const untold = counts.failed - outcome.failures.length;
    if (untold > 0) lines.push(`- and ${untold} more (the logs say which)`);
    if (counts.failed > 0) out.write(annotation("warning", `${counts.failed} image(s) could not be checked; the job summary lists them`));
  }
  writeSummary(env["GITHUB_STEP_SUMMARY"], lines.join("\n"));
  if (outcome.status === "config-error") return 1;
  return counts.failed > 0 ? 1 : 0;
}
