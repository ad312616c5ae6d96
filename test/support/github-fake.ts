// A stateful fake of the GitHub REST endpoints digesta uses, served through nock on api.github.com (and
// codeload.github.com for tarballs). It keeps real state (Git objects, refs, pull requests, issues, comments,
// labels, reviewers, installations and their tokens' permissions), so tests assert what the repository looks like
// afterwards rather than which calls were made. Installation tokens only reach their installation's repositories,
// and branch updates that change workflow files need the `workflows` permission, as on GitHub.
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import nock from "nock";
import tar from "tar-stream";

export type Permissions = Record<string, "read" | "write">;

export const DEFAULT_PERMISSIONS: Permissions = { metadata: "read", contents: "write", pull_requests: "write", issues: "write" };

interface Commit {
  readonly sha: string;
  readonly tree: string;
  readonly parents: readonly string[];
  readonly message: string;
  readonly author: string;
}

interface TreeEntry {
  readonly sha: string;
  readonly mode: string;
}

export interface PullRecord {
  readonly number: number;
  title: string;
  body: string;
  state: "open" | "closed";
  merged: boolean;
  readonly head: string;
  readonly base: string;
  readonly author: string;
  labels: string[];
  reviewers: string[];
  teamReviewers: string[];
}

export interface IssueRecord {
  readonly number: number;
  title: string;
  body: string;
  state: "open" | "closed";
  readonly author: string;
  labels: string[];
}

export interface CommentRecord {
  readonly id: number;
  readonly issue: number;
  body: string;
  readonly author: string;
  /** Reactions left on the comment, in order (`eyes`, `rocket`, `confused`…), with who left them. */
  readonly reactions: { readonly content: string; readonly author: string }[];
  /** How many times the comment was edited. */
  edits: number;
}

/** A collaborator's role on a repository, as the permission API names it. */
export type CollaboratorRole = "admin" | "maintain" | "write" | "triage" | "read";

interface Repository {
  readonly id: number;
  readonly owner: string;
  readonly name: string;
  readonly installationId: number;
  defaultBranch: string;
  readonly refs: Map<string, string>;
  readonly pulls: Map<number, PullRecord>;
  readonly issues: Map<number, IssueRecord>;
  readonly comments: CommentRecord[];
  readonly collaborators: Map<string, CollaboratorRole>;
  nextNumber: number;
}

interface Installation {
  readonly id: number;
  readonly account: string;
  permissions: Permissions;
  suspended: boolean;
}

export interface RecordedRequest {
  /** When it arrived (ms since the epoch). */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly authorization?: string;
}

type Reply = [number, unknown, Record<string, string>?];

/** A request the fake holds (`GitHubFake#hold`) before carrying it out. */
export interface HeldRequest {
  readonly method: string;
  readonly path: string;
  /** The URL of the listener (`listen`) it came through: which client sent it. */
  readonly listener: string;
  /** Resolves when the client's connection is gone (the process that sent it died). */
  readonly clientGone: Promise<void>;
  /** Carries the request out and answers it, if its client still listens. */
  release(): void;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const API = "https://api.github.com";
const CODELOAD = "https://codeload.github.com";

export class GitHubFake {
  readonly appSlug: string;
  readonly botLogin: string;
  /** Every request seen, in order. */
  readonly requests: RecordedRequest[] = [];
  /** Set to make codeload answer archive downloads with this status (a download failing after the redirect). */
  codeloadFailure: number | undefined;
  /** Pull requests of this branch report this head sha (GitHub's pull requests can lag a push by a moment). */
  pullHeadLag: { branch: string; sha: string } | undefined;
  /** The one-time tokens GitHub puts in codeload redirects (private repositories), which must never be logged. */
  readonly codeloadTokens = new Set<string>();
  readonly #blobs = new Map<string, Buffer>();
  readonly #trees = new Map<string, Map<string, TreeEntry>>();
  readonly #commits = new Map<string, Commit>();
  readonly #repositories = new Map<string, Repository>();
  readonly #installations = new Map<number, Installation>();
  /** Token → installation id, or a personal token's permissions. */
  readonly #tokens = new Map<string, { installationId?: number; permissions: Permissions; login: string }>();
  #nextRepositoryId = 1000;
  #nextCommentId = 1;
  #tokenCounter = 0;
  #scopes: nock.Scope[] = [];
  readonly #holds: {
    matches(method: string, path: string): boolean;
    caught(held: { method: string; path: string; listener: string; closed: Promise<void> }): Promise<void>;
  }[] = [];

  /** Answers GitHub gives instead of carrying a request out (rate limits, outages): see `failNext`. */
  readonly #faults: { matches(method: string, path: string): boolean; status: number; headers: Record<string, string>; message: string; left: number }[] = [];

  constructor(options: { appSlug?: string } = {}) {
    this.appSlug = options.appSlug ?? "digesta-test";
    this.botLogin = `${this.appSlug}[bot]`;
  }

  // ------------------------------------------------------------------------------------------ set-up

  addInstallation(id: number, account: string, permissions: Permissions = DEFAULT_PERMISSIONS): void {
    this.#installations.set(id, { id, account, permissions, suspended: false });
  }

  setPermissions(installationId: number, permissions: Permissions): void {
    this.#installation(installationId).permissions = permissions;
  }

  /** A plain token (one-shot mode) with the given permissions on every repository. */
  addToken(token: string, permissions: Permissions = DEFAULT_PERMISSIONS, login = "github-actions[bot]"): void {
    this.#tokens.set(token, { permissions, login });
  }

  createRepository(
    owner: string,
    name: string,
    files: Record<string, string | Buffer>,
    options: { installationId: number; defaultBranch?: string; executable?: readonly string[] },
  ): void {
    const repository: Repository = {
      id: this.#nextRepositoryId++,
      owner,
      name,
      installationId: options.installationId,
      defaultBranch: options.defaultBranch ?? "main",
      refs: new Map(),
      pulls: new Map(),
      issues: new Map(),
      comments: [],
      collaborators: new Map(),
      nextNumber: 1,
    };
    this.#repositories.set(key(owner, name), repository);
    const entries = new Map<string, TreeEntry>();
    for (const [path, content] of Object.entries(files)) {
      entries.set(path, { sha: this.#storeBlob(Buffer.from(content)), mode: options.executable?.includes(path) ? "100755" : "100644" });
    }
    const commit = this.#storeCommit(this.#storeTree(entries), [], "Initial commit", "octocat");
    repository.refs.set(`heads/${repository.defaultBranch}`, commit);
  }

  /** A person's commit on a branch (the default branch unless told): `null` deletes a file. */
  commit(owner: string, name: string, files: Record<string, string | null>, options: { branch?: string; message?: string; author?: string } = {}): string {
    const repository = this.#repository(owner, name);
    const ref = `heads/${options.branch ?? repository.defaultBranch}`;
    const parent = repository.refs.get(ref);
    if (!parent) throw new Error(`no branch ${ref}`);
    const entries = new Map(this.#trees.get(this.#commits.get(parent)!.tree)!);
    for (const [path, content] of Object.entries(files)) {
      if (content === null) entries.delete(path);
      else entries.set(path, { sha: this.#storeBlob(Buffer.from(content)), mode: entries.get(path)?.mode ?? "100644" });
    }
    const sha = this.#storeCommit(this.#storeTree(entries), [parent], options.message ?? "Update files", options.author ?? "octocat");
    repository.refs.set(ref, sha);
    return sha;
  }

  /** Merges a pull request: its head commit becomes the base branch's head (the branch stays). */
  merge(owner: string, name: string, number: number): void {
    const repository = this.#repository(owner, name);
    const pull = repository.pulls.get(number);
    if (!pull) throw new Error(`no pull request ${number}`);
    const head = repository.refs.get(`heads/${pull.head}`)!;
    const base = repository.refs.get(`heads/${pull.base}`)!;
    const merge = this.#storeCommit(this.#commits.get(head)!.tree, [base, head], `Merge pull request #${number}`, "octocat");
    repository.refs.set(`heads/${pull.base}`, merge);
    pull.state = "closed";
    pull.merged = true;
  }

  /** A person opens a pull request from `head` into `base` (the default branch unless told). */
  openPullRequest(owner: string, name: string, options: { head: string; base?: string; title?: string; body?: string; author?: string }): number {
    const repository = this.#repository(owner, name);
    if (!repository.refs.has(`heads/${options.head}`)) throw new Error(`no branch ${options.head}`);
    const pull: PullRecord = {
      number: repository.nextNumber++,
      title: options.title ?? `Changes from ${options.head}`,
      body: options.body ?? "",
      state: "open",
      merged: false,
      head: options.head,
      base: options.base ?? repository.defaultBranch,
      author: options.author ?? "octocat",
      labels: [],
      reviewers: [],
      teamReviewers: [],
    };
    repository.pulls.set(pull.number, pull);
    return pull.number;
  }

  /** Opens an issue as a person. */
  openIssue(owner: string, name: string, options: { title: string; body?: string; author?: string }): number {
    const repository = this.#repository(owner, name);
    const issue: IssueRecord = { number: repository.nextNumber++, title: options.title, body: options.body ?? "", state: "open", author: options.author ?? "octocat", labels: [] };
    repository.issues.set(issue.number, issue);
    return issue.number;
  }

  /** Someone comments on an issue or pull request; returns the comment's id (for the webhook payload). */
  addComment(owner: string, name: string, number: number, body: string, author: string): number {
    const repository = this.#repository(owner, name);
    if (!repository.pulls.has(number) && !repository.issues.has(number)) throw new Error(`no issue or pull request ${number}`);
    const comment: CommentRecord = { id: this.#nextCommentId++, issue: number, body, author, reactions: [], edits: 0 };
    repository.comments.push(comment);
    return comment.id;
  }

  /** Gives `login` a role on the repository (what the collaborator permission API answers). */
  setCollaborator(owner: string, name: string, login: string, role: CollaboratorRole): void {
    this.#repository(owner, name).collaborators.set(login.toLowerCase(), role);
  }

  /** The head commit of a pull request's branch and the head of its base branch. */
  pullShas(owner: string, name: string, number: number): { head: string; base: string } {
    const repository = this.#repository(owner, name);
    const pull = repository.pulls.get(number);
    if (!pull) throw new Error(`no pull request ${number}`);
    return { head: repository.refs.get(`heads/${pull.head}`)!, base: repository.refs.get(`heads/${pull.base}`)! };
  }

  /** Creates a branch at a commit (the default branch's head unless told). */
  createBranch(owner: string, name: string, branch: string, from?: string): string {
    const repository = this.#repository(owner, name);
    const sha = from ?? repository.refs.get(`heads/${repository.defaultBranch}`)!;
    repository.refs.set(`heads/${branch}`, sha);
    return sha;
  }

  // ------------------------------------------------------------------------------------------ state

  /** The files of a branch (default branch unless told), as text. */
  files(owner: string, name: string, branch?: string): Record<string, string> {
    const repository = this.#repository(owner, name);
    const sha = repository.refs.get(`heads/${branch ?? repository.defaultBranch}`);
    if (!sha) throw new Error(`no branch ${branch}`);
    const tree = this.#trees.get(this.#commits.get(sha)!.tree)!;
    return Object.fromEntries([...tree].map(([path, entry]) => [path, this.#blobs.get(entry.sha)!.toString("utf8")]));
  }

  /** One file of a branch, byte for byte. */
  fileBytes(owner: string, name: string, branch: string, path: string): Buffer | undefined {
    const sha = this.#repository(owner, name).refs.get(`heads/${branch}`);
    const entry = sha ? this.#trees.get(this.#commits.get(sha)!.tree)!.get(path) : undefined;
    return entry ? this.#blobs.get(entry.sha) : undefined;
  }

  fileMode(owner: string, name: string, branch: string, path: string): string | undefined {
    const sha = this.#repository(owner, name).refs.get(`heads/${branch}`);
    return sha ? this.#trees.get(this.#commits.get(sha)!.tree)!.get(path)?.mode : undefined;
  }

  branches(owner: string, name: string): string[] {
    return [...this.#repository(owner, name).refs.keys()].filter((r) => r.startsWith("heads/")).map((r) => r.slice(6));
  }

  branchHead(owner: string, name: string, branch: string): string | undefined {
    return this.#repository(owner, name).refs.get(`heads/${branch}`);
  }

  /** The commits of a branch that its base branch does not have, newest first. */
  commitsAhead(owner: string, name: string, branch: string): { sha: string; message: string; author: string; parents: readonly string[] }[] {
    const repository = this.#repository(owner, name);
    const base = new Set(this.#ancestors(repository.refs.get(`heads/${repository.defaultBranch}`)!));
    return this.#ancestors(repository.refs.get(`heads/${branch}`)!)
      .filter((sha) => !base.has(sha))
      .map((sha) => this.#commits.get(sha)!);
  }

  pulls(owner: string, name: string): PullRecord[] {
    return [...this.#repository(owner, name).pulls.values()];
  }

  openPulls(owner: string, name: string): PullRecord[] {
    return this.pulls(owner, name).filter((p) => p.state === "open");
  }

  issues(owner: string, name: string): IssueRecord[] {
    return [...this.#repository(owner, name).issues.values()];
  }

  comments(owner: string, name: string, number: number): CommentRecord[] {
    return this.#repository(owner, name).comments.filter((c) => c.issue === number);
  }

  /** Requests that change something (anything but GET/HEAD), optionally only those since `from`. */
  writes(from = 0): RecordedRequest[] {
    return this.requests.slice(from).filter((r) => r.method !== "GET" && r.method !== "HEAD" && !r.path.endsWith("/access_tokens"));
  }

  // ------------------------------------------------------------------------------------------ nock

  install(): void {
    const handler = (host: string) =>
      function (this: { req: { method?: string; headers: Record<string, string | string[] | undefined> } }, uri: string, body: unknown) {
        return fake.#handle(host, this.req.method ?? "GET", uri, body, this.req.headers);
      };
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const fake = this;
    for (const method of ["GET", "POST", "PATCH", "PUT", "DELETE"] as const) {
      this.#scopes.push(nock(API).persist().intercept(/.*/, method).reply(handler("api.github.com")));
    }
    this.#scopes.push(nock(CODELOAD).persist().get(/.*/).reply(handler("codeload.github.com")));
  }

  uninstall(): void {
    for (const scope of this.#scopes) scope.persist(false);
    nock.cleanAll();
    this.#scopes = [];
  }

  /**
   * Serves the same fake over plain HTTP on a loopback port, for a client in another process (the Action's bundle, the
   * app's server): the REST API at the URL returned (GITHUB_API_URL), also under `/api/v3` as GitHub Enterprise
   * Server lays it out (Probot's `GHE_HOST`), archive downloads under `/_codeload/`. nock stays in charge of this
   * process's own requests. Each call opens another listener on the same state: give each process its own, and a
   * held request (`hold`) says which one it came through.
   */
  async listen(): Promise<{ readonly url: string; close(): Promise<void> }> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        void (async () => {
          const path = (request.url ?? "/").replace(/^\/api\/v3(?=\/)/, "");
          const codeload = path.startsWith("/_codeload/");
          const uri = codeload ? path.slice("/_codeload".length) : path;
          const method = request.method ?? "GET";
          const host = codeload ? "codeload.github.com" : "api.github.com";
          const hold = this.#holds.find((h) => h.matches(method, new URL(uri, `https://${host}`).pathname));
          if (hold) {
            this.#holds.splice(this.#holds.indexOf(hold), 1);
            const closed = new Promise<void>((resolve) => response.once("close", () => resolve()));
            await hold.caught({ method, path: new URL(uri, `https://${host}`).pathname, listener: url, closed });
          }
          const fault = this.#faults.find((f) => f.left > 0 && f.matches(method, new URL(uri, `https://${host}`).pathname));
          if (fault) {
            fault.left--;
            this.requests.push({ at: Date.now(), method, path: new URL(uri, `https://${host}`).pathname, host });
            response
              .writeHead(fault.status, { "content-type": "application/json; charset=utf-8", ...fault.headers })
              .end(JSON.stringify({ message: fault.message, documentation_url: "https://docs.github.com/rest" }));
            return;
          }
          const [status, body, headers = {}] = await this.#handle(host, method, uri, Buffer.concat(chunks).toString("utf8"), request.headers);
          const location = headers["location"];
          const rewritten = location?.startsWith(CODELOAD) ? { ...headers, location: `${url}/_codeload${location.slice(CODELOAD.length)}` } : headers;
          const bytes = Buffer.isBuffer(body) || body instanceof Uint8Array ? body : typeof body === "string" ? body : JSON.stringify(body);
          if (response.destroyed) return;
          response.writeHead(status, { "content-type": typeof body === "object" && !(body instanceof Uint8Array) ? "application/json; charset=utf-8" : "text/plain", ...rewritten }).end(bytes);
        })().catch((error: unknown) => {
          if (!response.destroyed) response.writeHead(500).end(String(error));
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      url,
      close: () =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }

  /**
   * Answers the next `times` requests over HTTP (`listen`) matching `method` and `path` with `status` and GitHub's
   * error body, without carrying them out: a secondary rate limit (403 with Retry-After), an outage (502).
   */
  failNext(method: string, path: RegExp, status: number, options: { headers?: Record<string, string>; message?: string; times?: number } = {}): void {
    this.#faults.push({
      matches: (m, p) => m === method && path.test(p),
      status,
      headers: options.headers ?? {},
      message: options.message ?? "Server Error",
      left: options.times ?? 1,
    });
  }

  /** Deletes a repository, as its owner may at any moment: every later request for it is a 404. */
  deleteRepository(owner: string, name: string): void {
    this.#repositories.delete(key(owner, name));
  }

  /**
   * Holds the next request over HTTP (`listen`) matching `method` and `path`: it is neither carried out nor answered
   * until `release` is called. Resolves once one arrives, saying which listener it came through. Released, it is
   * carried out as GitHub would, even when its client is gone by then (a process killed after sending it), and
   * answered if anyone still listens.
   */
  hold(method: string, path: RegExp): Promise<HeldRequest> {
    return new Promise((resolve) => {
      this.#holds.push({
        matches: (m, p) => m === method && path.test(p),
        caught: (held) =>
          new Promise<void>((release) =>
            resolve({ method: held.method, path: held.path, listener: held.listener, clientGone: held.closed, release: () => release() }),
          ),
      });
    });
  }

  #handle(host: string, method: string, uri: string, rawBody: unknown, headers: Record<string, string | string[] | undefined>): Reply | Promise<Reply> {
    const url = new URL(uri, `https://${host}`);
    const authorization = typeof headers["authorization"] === "string" ? headers["authorization"] : undefined;
    this.requests.push({ at: Date.now(), method, path: url.pathname, host, ...(authorization ? { authorization } : {}) });
    const body = parseBody(rawBody);
    try {
      if (host === "codeload.github.com") return this.#codeload(url);
      return this.#route(method, url, body, authorization, String(headers["accept"] ?? ""));
    } catch (error) {
      if (error instanceof HttpError) return [error.status, { message: error.message, documentation_url: "https://docs.github.com/rest" }];
      return [500, { message: error instanceof Error ? error.message : String(error) }];
    }
  }

  #route(method: string, url: URL, body: Record<string, unknown>, authorization: string | undefined, accept: string): Reply {
    const path = decodeURIComponent(url.pathname);
    let m: RegExpExecArray | null;

    // App-level endpoints (JWT).
    if ((m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path)) && method === "POST") {
      this.#requireJwt(authorization);
      const installation = this.#installation(Number(m[1]));
      const token = `ghs_fake${++this.#tokenCounter}_${installation.id}`;
      this.#tokens.set(token, { installationId: installation.id, permissions: installation.permissions, login: this.botLogin });
      return [201, { token, expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: installation.permissions, repository_selection: "selected" }];
    }
    if (path === "/app" && method === "GET") {
      this.#requireJwt(authorization);
      return [200, { id: 1, slug: this.appSlug, name: this.appSlug, owner: { login: "digesta" } }];
    }
    if (path === "/app/installations" && method === "GET") {
      this.#requireJwt(authorization);
      return [200, [...this.#installations.values()].map((i) => ({ id: i.id, account: { login: i.account }, suspended_at: i.suspended ? "2024-01-01T00:00:00Z" : null, permissions: i.permissions }))];
    }
    if (path === "/installation/repositories" && method === "GET") {
      const caller = this.#caller(authorization);
      const repositories = [...this.#repositories.values()].filter((r) => r.installationId === caller.installationId);
      return [200, { total_count: repositories.length, repositories: repositories.map((r) => this.#repositoryJson(r)) }];
    }

    m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) throw new HttpError(404, `Not Found: ${method} ${path}`);
    const repository = this.#authorised(m[1]!, m[2]!, authorization);
    const caller = this.#caller(authorization);
    const rest = m[3] ?? "";
    const q = url.searchParams;

    if (rest === "" && method === "GET") return [200, this.#repositoryJson(repository)];
    if ((m = /^\/branches\/(.+)$/.exec(rest)) && method === "GET") {
      const sha = repository.refs.get(`heads/${m[1]}`);
      if (!sha) throw new HttpError(404, "Branch not found");
      return [200, { name: m[1], commit: { sha, commit: { tree: { sha: this.#commits.get(sha)!.tree }, message: this.#commits.get(sha)!.message } } }];
    }
    if ((m = /^\/tarball\/(.+)$/.exec(rest)) && method === "GET") {
      const sha = this.#resolve(repository, m[1]!);
      // As for a private repository: the redirect carries a short-lived token in its query.
      const token = `CODELOAD${createHash("sha256").update(`${sha}${this.codeloadTokens.size}`).digest("hex").slice(0, 24)}`;
      this.codeloadTokens.add(token);
      return [302, "", { location: `${CODELOAD}/${repository.owner}/${repository.name}/legacy.tar.gz/${sha}?token=${token}` }];
    }
    if ((m = /^\/contents\/(.+)$/.exec(rest)) && method === "GET") {
      const sha = this.#resolve(repository, q.get("ref") ?? repository.defaultBranch);
      const entry = this.#trees.get(this.#commits.get(sha)!.tree)!.get(m[1]!);
      if (!entry) throw new HttpError(404, "Not Found");
      const content = this.#blobs.get(entry.sha)!;
      if (accept.includes("raw")) return [200, content.toString("utf8"), { "content-type": "text/plain; charset=utf-8" }];
      // Over 1 MiB GitHub sends the metadata without the content.
      if (content.length > 1024 * 1024) return [200, { type: "file", path: m[1], sha: entry.sha, size: content.length, encoding: "none", content: "" }];
      return [200, { type: "file", path: m[1], sha: entry.sha, size: content.length, encoding: "base64", content: content.toString("base64") }];
    }
    if ((m = /^\/compare\/([0-9a-f]+)\.\.\.([0-9a-f]+)$/.exec(rest)) && method === "GET") {
      const mergeBase = this.#mergeBase(m[1]!, m[2]!);
      return [200, { merge_base_commit: mergeBase ? { sha: mergeBase } : null, files: this.#compare(m[1]!, m[2]!) }];
    }
    if ((m = /^\/collaborators\/([^/]+)\/permission$/.exec(rest)) && method === "GET") {
      const role = repository.collaborators.get(m[1]!.toLowerCase());
      if (!role) throw new HttpError(404, `${m[1]} is not a user`);
      const permission = role === "maintain" ? "write" : role === "triage" ? "read" : role;
      return [200, { permission, role_name: role, user: { login: m[1] } }];
    }

    // Git data.
    if ((m = /^\/git\/ref\/(heads\/.+)$/.exec(rest)) && method === "GET") {
      const sha = repository.refs.get(m[1]!);
      if (!sha) throw new HttpError(404, "Not Found");
      return [200, { ref: `refs/${m[1]}`, object: { sha, type: "commit" } }];
    }
    if (rest === "/git/refs" && method === "POST") {
      const ref = String(body["ref"]).replace(/^refs\//, "");
      if (repository.refs.has(ref)) throw new HttpError(422, "Reference already exists");
      const sha = String(body["sha"]);
      this.#checkWorkflows(caller, repository, undefined, sha);
      repository.refs.set(ref, sha);
      return [201, { ref: `refs/${ref}`, object: { sha, type: "commit" } }];
    }
    if ((m = /^\/git\/refs\/(heads\/.+)$/.exec(rest)) && method === "PATCH") {
      const current = repository.refs.get(m[1]!);
      if (!current) throw new HttpError(422, "Reference does not exist");
      const sha = String(body["sha"]);
      if (!body["force"] && !this.#ancestors(sha).includes(current)) throw new HttpError(422, "Update is not a fast forward");
      this.#checkWorkflows(caller, repository, current, sha);
      repository.refs.set(m[1]!, sha);
      return [200, { ref: `refs/${m[1]}`, object: { sha, type: "commit" } }];
    }
    if ((m = /^\/git\/refs\/(heads\/.+)$/.exec(rest)) && method === "DELETE") {
      if (!repository.refs.delete(m[1]!)) throw new HttpError(422, "Reference does not exist");
      for (const pull of repository.pulls.values()) if (`heads/${pull.head}` === m[1] && pull.state === "open") pull.state = "closed";
      return [204, ""];
    }
    if ((m = /^\/git\/commits\/([0-9a-f]{40})$/.exec(rest)) && method === "GET") {
      const commit = this.#commits.get(m[1]!);
      if (!commit) throw new HttpError(404, "Not Found");
      return [200, this.#commitJson(commit)];
    }
    if (rest === "/git/commits" && method === "POST") {
      const tree = String(body["tree"]);
      const parents = (body["parents"] as string[]) ?? [];
      if (!this.#trees.has(tree) || parents.some((p) => !this.#commits.has(p))) throw new HttpError(422, "Tree or parent SHA does not exist");
      const sha = this.#storeCommit(tree, parents, String(body["message"]), caller.login);
      return [201, this.#commitJson(this.#commits.get(sha)!)];
    }
    if (rest === "/git/blobs" && method === "POST") {
      const content = body["encoding"] === "base64" ? Buffer.from(String(body["content"]), "base64") : Buffer.from(String(body["content"]), "utf8");
      return [201, { sha: this.#storeBlob(content) }];
    }
    if (rest === "/git/trees" && method === "POST") {
      const base = body["base_tree"] ? this.#trees.get(String(body["base_tree"])) : new Map<string, TreeEntry>();
      if (!base) throw new HttpError(422, "base_tree does not exist");
      const entries = new Map(base);
      for (const entry of body["tree"] as { path: string; mode: string; sha?: string | null; content?: string }[]) {
        if (entry.sha === null) entries.delete(entry.path);
        else if (entry.content !== undefined) entries.set(entry.path, { sha: this.#storeBlob(Buffer.from(entry.content)), mode: entry.mode });
        else if (entry.sha && this.#blobs.has(entry.sha)) entries.set(entry.path, { sha: entry.sha, mode: entry.mode });
        else throw new HttpError(422, `blob ${entry.sha} does not exist`);
      }
      const sha = this.#storeTree(entries);
      return [201, { sha, tree: [...entries].map(([p, e]) => ({ path: p, mode: e.mode, type: "blob", sha: e.sha })) }];
    }

    // Pull requests.
    if (rest === "/pulls" && method === "GET") {
      let pulls = [...repository.pulls.values()];
      const state = q.get("state") ?? "open";
      if (state !== "all") pulls = pulls.filter((p) => p.state === state);
      const head = q.get("head");
      if (head) pulls = pulls.filter((p) => `${repository.owner}:${p.head}` === head);
      pulls.sort((a, b) => b.number - a.number);
      const perPage = Number(q.get("per_page") ?? 30);
      return [200, pulls.slice(0, perPage).map((p) => this.#pullJson(repository, p))];
    }
    if (rest === "/pulls" && method === "POST") {
      const head = String(body["head"]).replace(/^[^:]+:/, "");
      if (!repository.refs.has(`heads/${head}`)) throw new HttpError(422, "Validation Failed: head does not exist");
      if ([...repository.pulls.values()].some((p) => p.state === "open" && p.head === head)) {
        throw new HttpError(422, `Validation Failed: A pull request already exists for ${repository.owner}:${head}.`);
      }
      const pull: PullRecord = {
        number: repository.nextNumber++,
        title: String(body["title"]),
        body: String(body["body"] ?? ""),
        state: "open",
        merged: false,
        head,
        base: String(body["base"]),
        author: caller.login,
        labels: [],
        reviewers: [],
        teamReviewers: [],
      };
      repository.pulls.set(pull.number, pull);
      return [201, this.#pullJson(repository, pull)];
    }
    if ((m = /^\/pulls\/(\d+)$/.exec(rest))) {
      const pull = repository.pulls.get(Number(m[1]));
      if (!pull) throw new HttpError(404, "Not Found");
      if (method === "PATCH") {
        if (typeof body["title"] === "string") pull.title = body["title"];
        if (typeof body["body"] === "string") pull.body = body["body"];
        if (body["state"] === "closed" || body["state"] === "open") pull.state = body["state"];
      }
      return [200, this.#pullJson(repository, pull)];
    }
    if ((m = /^\/pulls\/(\d+)\/files$/.exec(rest)) && method === "GET") {
      const pull = repository.pulls.get(Number(m[1]));
      if (!pull) throw new HttpError(404, "Not Found");
      const head = repository.refs.get(`heads/${pull.head}`)!;
      const base = this.#mergeBase(repository.refs.get(`heads/${pull.base}`)!, head)!;
      const files = this.#compare(base, head).sort((a, b) => a.filename.localeCompare(b.filename));
      const perPage = Number(q.get("per_page") ?? 30);
      const page = Number(q.get("page") ?? 1);
      const slice = files.slice((page - 1) * perPage, page * perPage);
      const headers: Record<string, string> = {};
      if (page * perPage < files.length) {
        headers["link"] = `<${API}/repos/${repository.owner}/${repository.name}/pulls/${pull.number}/files?per_page=${perPage}&page=${page + 1}>; rel="next"`;
      }
      return [200, slice, headers];
    }
    if ((m = /^\/pulls\/(\d+)\/requested_reviewers$/.exec(rest)) && method === "POST") {
      const pull = repository.pulls.get(Number(m[1]));
      if (!pull) throw new HttpError(404, "Not Found");
      pull.reviewers.push(...((body["reviewers"] as string[]) ?? []));
      pull.teamReviewers.push(...((body["team_reviewers"] as string[]) ?? []));
      return [201, this.#pullJson(repository, pull)];
    }

    // Issues (pull requests share their numbers).
    if (rest === "/issues" && method === "GET") {
      const state = q.get("state") ?? "open";
      const creator = q.get("creator");
      const items = [
        ...[...repository.issues.values()].map((i) => this.#issueJson(repository, i)),
        ...[...repository.pulls.values()].map((p) => ({ ...this.#issueJson(repository, { ...p, state: p.state }), pull_request: { url: "" } })),
      ]
        .filter((i) => state === "all" || i.state === state)
        .filter((i) => !creator || i.user.login === creator)
        .sort((a, b) => b.number - a.number);
      return [200, items];
    }
    if (rest === "/issues" && method === "POST") {
      const issue: IssueRecord = { number: repository.nextNumber++, title: String(body["title"]), body: String(body["body"] ?? ""), state: "open", author: caller.login, labels: [] };
      repository.issues.set(issue.number, issue);
      return [201, this.#issueJson(repository, issue)];
    }
    if ((m = /^\/issues\/(\d+)$/.exec(rest))) {
      const issue = repository.issues.get(Number(m[1]));
      if (!issue) throw new HttpError(404, "Not Found");
      if (method === "PATCH") {
        if (typeof body["title"] === "string") issue.title = body["title"];
        if (typeof body["body"] === "string") issue.body = body["body"];
        if (body["state"] === "closed" || body["state"] === "open") issue.state = body["state"];
      }
      return [200, this.#issueJson(repository, issue)];
    }
    if ((m = /^\/issues\/(\d+)\/labels$/.exec(rest)) && method === "POST") {
      const target = repository.pulls.get(Number(m[1])) ?? repository.issues.get(Number(m[1]));
      if (!target) throw new HttpError(404, "Not Found");
      for (const label of (body["labels"] as string[]) ?? []) if (!target.labels.includes(label)) target.labels.push(label);
      return [200, target.labels.map((name) => ({ name }))];
    }
    if ((m = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      const number = Number(m[1]);
      if (!repository.pulls.has(number) && !repository.issues.has(number)) throw new HttpError(404, "Not Found");
      if (method === "POST") {
        const comment: CommentRecord = { id: this.#nextCommentId++, issue: number, body: String(body["body"]), author: caller.login, reactions: [], edits: 0 };
        repository.comments.push(comment);
        return [201, this.#commentJson(comment)];
      }
      if (method === "GET") {
        return [200, repository.comments.filter((c) => c.issue === number).map((c) => this.#commentJson(c))];
      }
    }
    if ((m = /^\/issues\/comments\/(\d+)$/.exec(rest)) && method === "PATCH") {
      const comment = repository.comments.find((c) => c.id === Number(m![1]));
      if (!comment) throw new HttpError(404, "Not Found");
      if (comment.author !== caller.login) throw new HttpError(403, "Resource not accessible by integration");
      comment.body = String(body["body"]);
      comment.edits++;
      return [200, this.#commentJson(comment)];
    }
    if ((m = /^\/issues\/comments\/(\d+)\/reactions$/.exec(rest)) && method === "POST") {
      const comment = repository.comments.find((c) => c.id === Number(m![1]));
      if (!comment) throw new HttpError(404, "Not Found");
      const content = String(body["content"]);
      if (!["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"].includes(content)) throw new HttpError(422, "Validation Failed");
      const existing = comment.reactions.some((r) => r.content === content && r.author === caller.login);
      if (!existing) comment.reactions.push({ content, author: caller.login });
      return [existing ? 200 : 201, { id: comment.reactions.length, content, user: { login: caller.login } }];
    }
    throw new HttpError(404, `Not Found: ${method} ${path}`);
  }

  async #codeload(url: URL): Promise<Reply> {
    const m = /^\/([^/]+)\/([^/]+)\/legacy\.tar\.gz\/([0-9a-f]{40})$/.exec(url.pathname);
    if (!m) return [404, "Not Found"];
    if (!this.codeloadTokens.has(url.searchParams.get("token") ?? "")) return [404, "Not Found"];
    if (this.codeloadFailure !== undefined) return [this.codeloadFailure, "Service Unavailable"];
    const repository = this.#repository(m[1]!, m[2]!);
    return [200, await this.tarball(repository.owner, repository.name, m[3]!), { "content-type": "application/x-gzip" }];
  }

  /** The gzipped tarball of a commit, laid out like GitHub's (`owner-repo-sha7/` folder, pax global header). */
  async tarball(owner: string, name: string, sha: string): Promise<Buffer> {
    const commit = this.#commits.get(sha);
    if (!commit) throw new HttpError(404, "Not Found");
    const top = `${owner}-${name}-${sha.slice(0, 7)}`;
    const pack = tar.pack();
    // GitHub puts the commit in a pax header (a global one; tar-stream writes per-entry ones, read the same way).
    pack.entry({ name: `${top}/`, type: "directory", mode: 0o755, pax: { comment: sha } });
    const folders = new Set<string>();
    for (const [path, entry] of [...this.#trees.get(commit.tree)!].sort(([a], [b]) => a.localeCompare(b))) {
      const parts = path.split("/");
      for (let i = 1; i < parts.length; i++) {
        const folder = parts.slice(0, i).join("/");
        if (!folders.has(folder)) {
          folders.add(folder);
          pack.entry({ name: `${top}/${folder}/`, type: "directory", mode: 0o755 });
        }
      }
      pack.entry({ name: `${top}/${path}`, mode: entry.mode === "100755" ? 0o755 : 0o644 }, this.#blobs.get(entry.sha)!);
    }
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    return gzipSync(Buffer.concat(chunks));
  }

  // ------------------------------------------------------------------------------------------ internals

  #requireJwt(authorization: string | undefined): void {
    if (!authorization || !/^bearer [\w-]+\.[\w-]+\.[\w-]+$/i.test(authorization)) throw new HttpError(401, "A JSON web token could not be decoded");
  }

  #caller(authorization: string | undefined): { installationId?: number; permissions: Permissions; login: string } {
    const token = authorization?.replace(/^(token|bearer)\s+/i, "");
    const found = token ? this.#tokens.get(token) : undefined;
    if (!found) throw new HttpError(401, "Bad credentials");
    return found;
  }

  #authorised(owner: string, name: string, authorization: string | undefined): Repository {
    const caller = this.#caller(authorization);
    const repository = this.#repositories.get(key(owner, name));
    if (!repository || (caller.installationId !== undefined && caller.installationId !== repository.installationId)) {
      throw new HttpError(404, "Not Found");
    }
    return repository;
  }

  /** GitHub refuses a branch update that changes workflow files unless the token may write workflows. */
  #checkWorkflows(caller: { permissions: Permissions }, repository: Repository, from: string | undefined, to: string): void {
    if (caller.permissions["workflows"] === "write") return;
    const next = this.#commits.get(to);
    if (!next) throw new HttpError(422, "Object does not exist");
    const before = this.#trees.get(this.#commits.get(from ?? next.parents[0] ?? "")?.tree ?? "") ?? this.#trees.get(this.#commits.get(repository.refs.get(`heads/${repository.defaultBranch}`)!)!.tree)!;
    const after = this.#trees.get(next.tree)!;
    const paths = new Set([...before.keys(), ...after.keys()]);
    for (const path of paths) {
      if (path.startsWith(".github/workflows/") && before.get(path)?.sha !== after.get(path)?.sha) {
        throw new HttpError(
          403,
          `refusing to allow a GitHub App to create or update workflow \`${path}\` without \`workflows\` permission`,
        );
      }
    }
  }

  #resolve(repository: Repository, ref: string): string {
    if (/^[0-9a-f]{40}$/.test(ref) && this.#commits.has(ref)) return ref;
    const sha = repository.refs.get(`heads/${ref.replace(/^refs\/heads\//, "").replace(/^heads\//, "")}`);
    if (!sha) throw new HttpError(404, "No commit found for the ref");
    return sha;
  }

  #compare(from: string, to: string): { filename: string; status: string; patch?: string }[] {
    const a = this.#trees.get(this.#commits.get(from)?.tree ?? "");
    const b = this.#trees.get(this.#commits.get(to)?.tree ?? "");
    if (!a || !b) throw new HttpError(404, "Not Found");
    const files = [];
    for (const path of new Set([...a.keys(), ...b.keys()])) {
      const before = a.get(path);
      const after = b.get(path);
      if (before?.sha === after?.sha) continue;
      const oldLines = before ? this.#blobs.get(before.sha)!.toString("utf8").split("\n") : [];
      const newLines = after ? this.#blobs.get(after.sha)!.toString("utf8").split("\n") : [];
      const removed = oldLines.filter((line) => !newLines.includes(line)).map((line) => `-${line}`);
      const added = newLines.filter((line) => !oldLines.includes(line)).map((line) => `+${line}`);
      files.push({
        filename: path,
        status: !before ? "added" : !after ? "removed" : "modified",
        patch: `@@ -1,${oldLines.length} +1,${newLines.length} @@\n${[...removed, ...added].join("\n")}`,
      });
    }
    return files;
  }

  /** The first ancestor of `head` (breadth first) that `base` also has. */
  #mergeBase(base: string, head: string): string | undefined {
    const ofBase = new Set(this.#ancestors(base));
    return this.#ancestors(head).find((sha) => ofBase.has(sha));
  }

  #commentJson(c: CommentRecord) {
    return { id: c.id, body: c.body, user: { login: c.author, type: c.author.endsWith("[bot]") ? "Bot" : "User" } };
  }

  #ancestors(sha: string): string[] {
    const seen: string[] = [];
    const queue = [sha];
    while (queue.length > 0) {
      const next = queue.shift()!;
      if (seen.includes(next)) continue;
      seen.push(next);
      queue.push(...(this.#commits.get(next)?.parents ?? []));
    }
    return seen;
  }

  #storeBlob(content: Buffer): string {
    const sha = createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
    this.#blobs.set(sha, content);
    return sha;
  }

  #storeTree(entries: Map<string, TreeEntry>): string {
    const text = [...entries].sort(([a], [b]) => a.localeCompare(b)).map(([p, e]) => `${e.mode} ${e.sha} ${p}`).join("\n");
    const sha = createHash("sha1").update(`tree\0${text}`).digest("hex");
    this.#trees.set(sha, new Map(entries));
    return sha;
  }

  #storeCommit(tree: string, parents: readonly string[], message: string, author: string): string {
    const sha = createHash("sha1").update(`commit\0${tree}\0${parents.join(",")}\0${author}\0${message}\0${this.#commits.size}`).digest("hex");
    this.#commits.set(sha, { sha, tree, parents, message, author });
    return sha;
  }

  #installation(id: number): Installation {
    const installation = this.#installations.get(id);
    if (!installation) throw new HttpError(404, "Not Found");
    return installation;
  }

  #repository(owner: string, name: string): Repository {
    const repository = this.#repositories.get(key(owner, name));
    if (!repository) throw new Error(`no repository ${owner}/${name}`);
    return repository;
  }

  #repositoryJson(r: Repository) {
    return {
      id: r.id,
      name: r.name,
      full_name: `${r.owner}/${r.name}`,
      owner: { login: r.owner },
      default_branch: r.defaultBranch,
      archived: false,
      disabled: false,
      private: false,
    };
  }

  #commitJson(commit: Commit) {
    return {
      sha: commit.sha,
      message: commit.message,
      tree: { sha: commit.tree },
      parents: commit.parents.map((sha) => ({ sha })),
      author: { name: commit.author, email: `${commit.author}@users.noreply.github.com`, date: "2024-01-01T00:00:00Z" },
      committer: { name: commit.author, email: `${commit.author}@users.noreply.github.com`, date: "2024-01-01T00:00:00Z" },
    };
  }

  #pullJson(r: Repository, p: PullRecord) {
    return {
      number: p.number,
      title: p.title,
      body: p.body,
      state: p.state,
      merged_at: p.merged ? "2024-01-01T00:00:00Z" : null,
      user: { login: p.author },
      head: { ref: p.head, sha: (this.pullHeadLag?.branch === p.head ? this.pullHeadLag.sha : r.refs.get(`heads/${p.head}`)) ?? null, repo: this.#repositoryJson(r) },
      base: { ref: p.base, sha: r.refs.get(`heads/${p.base}`) ?? null, repo: this.#repositoryJson(r) },
      labels: p.labels.map((name) => ({ name })),
      requested_reviewers: p.reviewers.map((login) => ({ login })),
    };
  }

  #issueJson(r: Repository, i: { number: number; title: string; body: string; state: string; author: string; labels: string[] }) {
    return { number: i.number, title: i.title, body: i.body, state: i.state, user: { login: i.author }, labels: i.labels.map((name) => ({ name })), repository_url: `${API}/repos/${r.owner}/${r.name}` };
  }
}

function key(owner: string, name: string): string {
  return `${owner}/${name}`.toLowerCase();
}

function parseBody(body: unknown): Record<string, unknown> {
  if (typeof body === "string") {
    if (body === "") return {};
    try {
      return JSON.parse(body) as Record<string, unknown>;
    } catch {
      return {};
    }
  }
  return (body ?? {}) as Record<string, unknown>;
}
