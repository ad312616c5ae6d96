import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import { loadConfigOrDefaults } from "../config/load.js";
import { CONFIG_PATH, DEFAULT_CONFIG } from "../config/schema.js";
import { CONFIG_ISSUE_TITLE } from "../github/config-issue.js";
import { HELP_TEXT, parseCommand, type Command } from "../conversation/command.js";
import { renderImageDiffs } from "../diff/markdown.js";
import { mayRunCommands, react } from "../github/comment.js";
import { fromDigestaBranch, type RepositoryRef } from "../github/publish.js";
import { code, inline, MAX_BODY_LENGTH, PULL_REQUEST_MARKER } from "../github/pull-request-text.js";
import { formatReference } from "../reference/format.js";
import type { Digest, ImageName, PinnedReference, Platform } from "../reference/types.js";
import type { RefreshOutcome } from "./refresh.js";
import type { RegistrySession } from "./session.js";
import { errorLine } from "../errors/error-line.js";

/** A comment as the `issue_comment` webhook describes it: only what the commands read. */
export interface CommentEvent {
  readonly installationId: number;
  readonly repository: RepositoryRef;
  /** The issue or pull request the comment is on. */
  readonly number: number;
  readonly isPullRequest: boolean;
  readonly comment: { readonly id: number; readonly body: string; readonly login: string; readonly isBot: boolean };
}

export interface CommandDeps {
  readonly octokit: ProbotOctokit;
  readonly log: Logger;
  readonly createSession: () => RegistrySession;
  /** The controller's refresh: one run per repository, through the guard. */
  readonly refresh: (target: { installationId: number; owner: string; repo: string; reason: string }, octokit: ProbotOctokit) => Promise<RefreshOutcome | Error>;
}

export type CommandResult = "ignored" | "refused" | "done" | "failed";

interface Answer {
  readonly ok: boolean;
  /** The reply, if any (trusted Markdown: every piece of outside text in it is escaped). */
  readonly reply?: string;
}

const WHO_MAY = "Only people with write, maintain or admin permission on this repository can run digesta's commands.";

/**
 * A `/digesta` command on the first line of a new comment. Bots (digesta included) are ignored entirely. The
 * comment is acknowledged with 👀 at once, then gets 🚀 when done, or 😕 and a reply saying what went wrong.
 */
export async function handleCommand(event: CommentEvent, deps: CommandDeps): Promise<CommandResult> {
  if (event.comment.isBot) return "ignored";
  const command = parseCommand(event.comment.body);
  if (!command) return "ignored";
  const { octokit, log } = deps;
  const { repository, comment } = event;
  const commandLog = log.child({ command: command.kind, pull: event.number, user: comment.login });
  await react(octokit, repository, comment.id, "eyes");

  let answer: Answer;
  try {
    if (!(await mayRunCommands(octokit, repository, comment.login))) {
      await reply(octokit, event, WHO_MAY);
      await react(octokit, repository, comment.id, "confused");
      commandLog.info("command refused: no write permission");
      return "refused";
    }
    answer = await run(command, event, deps);
  } catch (error) {
    commandLog.warn({ err: error }, "command failed");
    answer = { ok: false, reply: `digesta could not run this command: ${inline(errorLine(error))}` };
  }
  if (answer.reply) await reply(octokit, event, answer.reply);
  await react(octokit, repository, comment.id, answer.ok ? "rocket" : "confused");
  commandLog.info({ ok: answer.ok }, "command answered");
  return answer.ok ? "done" : "failed";
}

async function run(command: Command, event: CommentEvent, deps: CommandDeps): Promise<Answer> {
  switch (command.kind) {
    case "help":
      return { ok: true, reply: HELP_TEXT };
    case "invalid":
      return { ok: false, reply: `${inline(command.problem)}.\n\n${HELP_TEXT}` };
    case "refresh":
      return refresh(event, deps);
    case "diff":
      return diff(command, event, deps);
  }
}

async function refresh(event: CommentEvent, deps: CommandDeps): Promise<Answer> {
  const onDigestaPull = event.isPullRequest && (await isDigestaPull(deps.octokit, event.repository, event.number));
  const outcome = await deps.refresh(
    { installationId: event.installationId, owner: event.repository.owner, repo: event.repository.repo, reason: "command" },
    deps.octokit,
  );
  if (outcome instanceof Error) return { ok: false, reply: `digesta could not refresh this repository: ${inline(errorLine(outcome))}` };
  switch (outcome.status) {
    case "config-error":
      return { ok: false, reply: `digesta did not run: \`${CONFIG_PATH}\` is broken. The issue *${CONFIG_ISSUE_TITLE}* lists what to fix.` };
    case "disabled":
      return { ok: false, reply: `digesta did not run: it is turned off for this repository (\`enabled: false\` in \`${CONFIG_PATH}\`).` };
    case "empty":
      return { ok: true, reply: "This repository has no commits yet: nothing to check." };
    case "done": {
      if (onDigestaPull) {
        const mine = outcome.pullRequests.find((p) => "number" in p && p.number === event.number);
        // Updated, unchanged or closed: the pull request itself (or its closing comment) says what happened.
        if (mine?.kind === "left-alone") return { ok: false, reply: `digesta did not update this pull request: ${inline(mine.reason)}.` };
        return { ok: true };
      }
      const pulls = outcome.pullRequests.flatMap((p) => (p.kind === "created" || p.kind === "updated" || p.kind === "unchanged" || p.kind === "closed" ? [p] : []));
      const lines = [
        `Checked this repository: ${outcome.updates} ${outcome.updates === 1 ? "digest" : "digests"} to move, ${outcome.upToDate} up to date, ${outcome.failed} could not be checked.`,
        ...pulls.map((p) => `- #${p.number}: ${p.kind === "unchanged" ? "already up to date" : p.kind}`),
      ];
      return { ok: true, reply: lines.join("\n") };
    }
  }
}

/** A pull request digesta opened: its branch is one of digesta's, or its body starts with digesta's marker. */
async function isDigestaPull(octokit: ProbotOctokit, repository: RepositoryRef, number: number): Promise<boolean> {
  const { data } = await octokit.rest.pulls.get({ ...repository, pull_number: number });
  return fromDigestaBranch(data.head, repository) || (data.body ?? "").startsWith(PULL_REQUEST_MARKER);
}

async function diff(command: Extract<Command, { kind: "diff" }>, event: CommentEvent, deps: CommandDeps): Promise<Answer> {
  const session = deps.createSession();
  if (!session.diff) return { ok: false, reply: "The package diff is not available in this installation of digesta." };
  const name: ImageName = { registry: command.from.registry, repository: command.from.repository };
  // The platform to compare; GitHub failing to send the file is no reason to refuse the diff.
  const config = await loadConfigOrDefaults(deps.octokit, event.repository).catch(() => DEFAULT_CONFIG);
  let to: Digest;
  let platform: Platform = config.diff.platform;
  // An unknown image or digest is the user's to fix: say so plainly rather than show a diff of warnings.
  for (const digest of command.to ? [command.from.digest, command.to] : [command.from.digest]) {
    const problem = await unreadable(session, name, digest);
    if (problem) return { ok: false, reply: problem };
  }
  if (command.to) {
    to = command.to;
  } else {
    const pin = command.from as PinnedReference;
    try {
      const followed = await session.follower.follow(pin);
      to = followed.current;
      if (followed.platform) platform = followed.platform;
    } catch (error) {
      return { ok: false, reply: `digesta could not follow ${code(formatReference(pin))}: ${inline(errorLine(error))}` };
    }
  }
  const result = await session.diff(name, command.from.tag ?? "", command.from.digest, to, platform);
  const text = renderImageDiffs([result], { budget: MAX_BODY_LENGTH - 200, heading: "### Package changes" });
  return { ok: true, reply: text };
}

/** Why one digest of an image cannot be read (unknown image, registry refusing, host not allowed), or undefined. */
async function unreadable(session: RegistrySession, name: ImageName, digest: Digest): Promise<string | undefined> {
  try {
    await session.registry.headManifest(name, digest);
    return undefined;
  } catch (error) {
    return `digesta could not read ${code(formatReference({ ...name, digest }))}: ${inline(errorLine(error))}`;
  }
}

async function reply(octokit: ProbotOctokit, event: CommentEvent, body: string): Promise<void> {
  await octokit.rest.issues.createComment({ ...event.repository, issue_number: event.number, body });
}

