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

interface OpenIssue {
  readonly number: number;
  readonly title: string;
  readonly body: string;
}

/**
 * digesta's open issues in one repository (the configuration error, the vanished pins), listed at most once per run
 * however many kinds a run opens or closes.
 */
export class OwnIssues {
  #listing: Promise<OpenIssue[]> | undefined;

  constructor(
    private readonly octokit: ProbotOctokit,
    private readonly repository: RepositoryRef,
    private readonly author: IssueAuthor = {},
  ) {}

  /** Opens the one issue of this kind, or rewrites its body when it changed. Returns its number. */
  async open(kind: OwnIssueKind, body: string): Promise<number> {
    const existing = await this.#find(kind);
    if (existing) {
      if (existing.body !== body) await this.octokit.rest.issues.update({ ...this.repository, issue_number: existing.number, body });
      return existing.number;
    }
    const created = await this.octokit.rest.issues.create({ ...this.repository, title: kind.title, body });
    (await this.#list()).push({ number: created.data.number, title: kind.title, body });
    return created.data.number;
  }

  /** Closes the issue of this kind, if one is open, with `comment` saying why. Returns its number. */
  async close(kind: OwnIssueKind, comment: string): Promise<number | undefined> {
    const existing = await this.#find(kind);
    if (!existing) return undefined;
    await this.octokit.rest.issues.createComment({ ...this.repository, issue_number: existing.number, body: comment });
    await this.octokit.rest.issues.update({ ...this.repository, issue_number: existing.number, state: "closed", state_reason: "completed" });
    const listed = await this.#list();
    listed.splice(listed.indexOf(existing), 1);
    return existing.number;
  }

  async #find(kind: OwnIssueKind): Promise<OpenIssue | undefined> {
    return (await this.#list()).find((issue) => issue.title === kind.title && issue.body.startsWith(kind.marker));
  }

  #list(): Promise<OpenIssue[]> {
    this.#listing ??= this.octokit.rest.issues
      .listForRepo({ ...this.repository, state: "open", per_page: 100, ...(this.author.login ? { creator: this.author.login } : {}) })
      .then(({ data }) => data.filter((issue) => !issue.pull_request).map((issue) => ({ number: issue.number, title: issue.title, body: issue.body ?? "" })))
      .catch((error: unknown) => {
        // Not remembered: the next look asks again.
        this.#listing = undefined;
        throw error;
      });
    return this.#listing;
  }
}
