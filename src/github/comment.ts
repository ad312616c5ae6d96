import type { ProbotOctokit } from "probot";
import type { RepositoryRef } from "./publish.js";

/** The reactions digesta leaves on a command: seen, done, went wrong. */
export type CommandReaction = "eyes" | "rocket" | "confused";

/** Pages of comments read to find digesta's own; a conversation longer than this gets a fresh comment. */
const MAX_COMMENT_PAGES = 20;

export interface MarkedComment {
  readonly id: number;
  readonly body: string;
}

/**
 * digesta's comment on an issue or pull request whose body starts with `marker`, written by a bot (digesta's own
 * login when known): a person quoting the marker does not make their comment digesta's.
 */
export async function findMarkedComment(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  number: number,
  marker: string,
  botLogin?: string,
): Promise<MarkedComment | undefined> {
  let pages = 0;
  for await (const page of octokit.paginate.iterator(octokit.rest.issues.listComments, { ...repository, issue_number: number, per_page: 100 })) {
    for (const comment of page.data) {
      const author = comment.user;
      const ours = botLogin ? author?.login === botLogin : author?.type === "Bot";
      if (ours && comment.body?.startsWith(marker)) return { id: comment.id, body: comment.body };
    }
    if (++pages >= MAX_COMMENT_PAGES) break;
  }
  return undefined;
}

export type UpsertOutcome = "created" | "updated" | "unchanged";

/** Edits digesta's marked comment in place (when its text changed), or creates it. */
export async function upsertMarkedComment(
  octokit: ProbotOctokit,
  repository: RepositoryRef,
  number: number,
  marker: string,
  body: string,
  options: { readonly botLogin?: string; readonly existing?: MarkedComment | null } = {},
): Promise<UpsertOutcome> {
  const existing = options.existing === undefined ? await findMarkedComment(octokit, repository, number, marker, options.botLogin) : options.existing ?? undefined;
  if (existing) {
    if (existing.body === body) return "unchanged";
    await octokit.rest.issues.updateComment({ ...repository, comment_id: existing.id, body });
    return "updated";
  }
  await octokit.rest.issues.createComment({ ...repository, issue_number: number, body });
  return "created";
}

/** Adds a reaction to a comment; a failure to react never stops the command. */
export async function react(octokit: ProbotOctokit, repository: RepositoryRef, commentId: number, content: CommandReaction): Promise<boolean> {
  try {
    await octokit.rest.reactions.createForIssueComment({ ...repository, comment_id: commentId, content });
    return true;
  } catch {
    return false;
  }
}

/** Repository roles that may run digesta's commands. */
const ALLOWED_ROLES = new Set(["admin", "maintain", "write"]);

/**
 * Whether `login` may run commands: write, maintain or admin on the repository, as GitHub's API says (not guessed
 * from the comment's `author_association`). `role_name` names custom and `maintain` roles; `permission` is the
 * older, coarser field. Not a collaborator: no.
 */
export async function mayRunCommands(octokit: ProbotOctokit, repository: RepositoryRef, login: string): Promise<boolean> {
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ ...repository, username: login });
    return ALLOWED_ROLES.has(data.role_name) || ALLOWED_ROLES.has(data.permission);
  } catch (error) {
    if ((error as { status?: number }).status === 404) return false;
    throw error;
  }
}
