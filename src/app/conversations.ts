import type { Logger, Probot, ProbotOctokit } from "probot";
import { handleCommand, type CommandDeps } from "./commands.js";
import { updatePackageChanges, type PackageChangesLimits } from "./pull-request-handler.js";
import { RunGuard } from "./run-guard.js";
import type { RegistrySession } from "./session.js";

export interface ConversationDeps {
  readonly createSession: () => RegistrySession;
  readonly refresh: CommandDeps["refresh"];
  readonly botLogin: () => Promise<string | undefined>;
  readonly log: () => Logger;
  readonly limits?: PackageChangesLimits;
}

export interface Conversations {
  /** Resolves when no package-changes comment is being written. */
  idle(): Promise<void>;
}

export const PULL_REQUEST_EVENTS = ["pull_request.opened", "pull_request.synchronize", "pull_request.reopened"] as const;

/**
 * The app's side of pull request conversations: the package-changes comment on every pull request that moves a
 * digest (one writer per pull request: pushes in quick succession merge into one more run that reads the last
 * head), and `/digesta` commands in new comments.
 */
export function registerConversations(probot: Probot, deps: ConversationDeps): Conversations {
  const comments = new RunGuard();

  probot.on([...PULL_REQUEST_EVENTS], async (context) => {
    const { payload } = context;
    if (!payload.installation) return;
    const repository = context.repo();
    const number = payload.pull_request.number;
    const log = deps.log().child({ installation: payload.installation.id, repository: `${repository.owner}/${repository.repo}`, pull: number });
    await comments.run(`${repository.owner}/${repository.repo}#${number}`.toLowerCase(), async () => {
      try {
        const botLogin = await deps.botLogin();
        await updatePackageChanges({
          octokit: context.octokit as ProbotOctokit,
          repository,
          number,
          session: deps.createSession(),
          log,
          ...(botLogin ? { botLogin } : {}),
          ...(deps.limits ? { limits: deps.limits } : {}),
        });
      } catch (error) {
        // A comment that cannot be written is logged, never a failed delivery that GitHub would retry forever.
        log.error({ err: error }, "package changes comment failed");
      }
    });
  });

  probot.on("issue_comment.created", async (context) => {
    const { payload } = context;
    if (!payload.installation) return;
    const repository = context.repo();
    const log = deps.log().child({ installation: payload.installation.id, repository: `${repository.owner}/${repository.repo}` });
    try {
      await handleCommand(
        {
          installationId: payload.installation.id,
          repository,
          number: payload.issue.number,
          isPullRequest: Boolean(payload.issue.pull_request),
          comment: {
            id: payload.comment.id,
            body: payload.comment.body ?? "",
            login: payload.comment.user?.login ?? "",
            isBot: payload.comment.user?.type === "Bot" || payload.sender?.type === "Bot",
          },
        },
        { octokit: context.octokit as ProbotOctokit, log, createSession: deps.createSession, refresh: deps.refresh },
      );
    } catch (error) {
      log.error({ err: error }, "command failed");
    }
  });

  return { idle: () => comments.idle() };
}
