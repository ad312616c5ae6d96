import { randomUUID } from "node:crypto";
import type { ApplicationFunction, Logger, Probot, ProbotOctokit } from "probot";
import { createMetrics, createMetricsHandler, type Metrics } from "../metrics/metrics.js";
import { createMemoryPinIndex, type PinIndex } from "../store/pin-index.js";
import { createMemoryQueue } from "../queue/memory.js";
import { repositoryKey, type Job, type JobContext, type JobQueue, type RefreshJob, type SweepJob } from "../queue/types.js";
import type { ExtractLimits } from "../github/tarball.js";
import { registerConversations, type Conversations } from "./conversations.js";
import { pushTouchesPins } from "./push-filter.js";
import { refreshRepository, type RefreshOutcome } from "./refresh.js";
import { createRegistryEventsHandler, publishedPackageTag } from "./registry-events.js";
import type { RegistrySession } from "./session.js";
import { createSweepHandler } from "./sweep-endpoint.js";
import { interleaveByInstallation, listInstalledRepositories, RepositoryBook, type RepositoryBookLike, type RepositoryEntry } from "./sweep.js";

export interface DigestaAppOptions {
  /**
   * A fresh registry session (client, pin follower, caches). Runs queued together (a sweep, an installation) share
   * one, `batch` naming them; a run on its own gets its own.
   */
  readonly createSession: (batch?: string) => RegistrySession;
  /** Where triggers wait and how many run at once; default one process's memory, with `concurrency`. */
  readonly queue?: JobQueue;
  /** What the scheduler knows of each repository; default this process's memory. */
  readonly book?: RepositoryBookLike;
  /** Whether this process runs jobs (roles `worker` and `all`) or only queues them (role `web`). Default true. */
  readonly work?: boolean;
  /** Which repositories follow which tags, for registry push events; default this process's memory. */
  readonly pins?: PinIndex;
  /** Protects `POST /digesta/sweep`; without it the endpoint answers 503. */
  readonly sweepSecret?: string;
  /** Protects `POST /digesta/registry-events`; without it the endpoint answers 503. */
  readonly registryEventsSecret?: string;
  /** Where runs, queue, registry, GitHub and cache figures are counted for `GET /metrics`; default a fresh set. */
  readonly metrics?: Metrics;
  /** When set, `GET /metrics` answers only with this bearer secret. */
  readonly metricsSecret?: string;
  /** How often the scheduler looks for due repositories; `false` turns it off. Default one minute. */
  readonly schedulerIntervalMs?: number | false;
  /** Repositories refreshed at once by this process. Default 4. */
  readonly concurrency?: number;
  /** How long the list of installed repositories is trusted before the scheduler lists them again. Default 1 hour. */
  readonly repositoryListMaxAgeMs?: number;
  readonly limits?: { readonly extract?: ExtractLimits; readonly maxFileSize?: number };
  readonly now?: () => Date;
}

/** One repository to refresh, and how to reach it. */
export interface RefreshTarget {
  readonly installationId: number;
  readonly owner: string;
  readonly repo: string;
  readonly defaultBranch?: string;
  /** Why: `installation`, `push`, `schedule`, `sweep`, `command` (logged). */
  readonly reason: string;
}

export interface SweepReport {
  /** Repositories the app is installed on. */
  readonly repositories: number;
  /** Of those, queued for a run by this sweep. */
  readonly queued: number;
}

/** The app, and the handles its server and tests use. */
export interface DigestaController {
  /** Load with Probot's `run`, `Server#load` or `Probot#load`. */
  readonly app: ApplicationFunction;
  readonly queue: JobQueue;
  readonly metrics: Metrics;
  /**
   * Queues a refresh of one repository and waits for it (or for the run it joined). Never throws: a failure is
   * logged and returned.
   */
  refresh(target: RefreshTarget): Promise<RefreshOutcome | Error>;
  /** Queues a sweep: the due repositories of every installation (all of them with `force`) are queued to run. */
  sweep(options?: { readonly force?: boolean }): Promise<SweepReport>;
  /** Resolves when no job waits or runs in this process. */
  idle(): Promise<void>;
  /** Stops taking jobs; running ones finish. */
  stop(): void;
}

/**
 * The queue could not take a job (Redis away). Thrown from a webhook handler it answers the delivery 503, so the
 * delivery shows as failed in GitHub and can be redelivered, rather than being acknowledged and lost.
 */
export class QueueUnavailableError extends Error {
  override readonly name = "QueueUnavailableError";
  readonly status = 503;
  constructor(cause: unknown) {
    super(`digesta could not queue the job (is Redis reachable?): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Sessions of batches still running in this process, kept at most this many and this long. */
const MAX_BATCH_SESSIONS = 8;
const BATCH_SESSION_MS = 60 * 60 * 1000;

export function createDigesta(options: DigestaAppOptions): DigestaController {
  const now = options.now ?? (() => new Date());
  const jobs = options.queue ?? createMemoryQueue();
  // Every add goes through here: a queue that cannot take the job says so as a 503.
  const queue: JobQueue = {
    ...jobs,
    kind: jobs.kind,
    add: (job) =>
      jobs.add(job).catch((error: unknown) => {
        throw new QueueUnavailableError(error);
      }),
  };
  const book = options.book ?? new RepositoryBook(now());
  const pins = options.pins ?? createMemoryPinIndex();
  const metrics = options.metrics ?? createMetrics();
  metrics.watch(jobs);
  const instrumented = new WeakSet<object>();
  const concurrency = options.concurrency ?? 4;
  const batchSessions = new Map<string, { session: RegistrySession; at: number }>();
  let probot: Probot | undefined;
  let log: Logger | undefined;
  let botLogin: Promise<string | undefined> | undefined;
  let conversations: Conversations | undefined;
  let closing: Promise<void> | undefined;

  const appLog = (): Logger => {
    if (!log) throw new Error("digesta: the app is not loaded into Probot yet");
    return log;
  };

  const ownLogin = (): Promise<string | undefined> => {
    botLogin ??= (async () => {
      try {
        const octokit = await probot!.auth();
        const { data } = await octokit.rest.apps.getAuthenticated();
        return data?.slug ? `${data.slug}[bot]` : undefined;
      } catch {
        // Not remembered: the next event asks again rather than go on without the login for the app's lifetime.
        botLogin = undefined;
        return undefined;
      }
    })();
    return botLogin;
  };

  /** The session of a batch (shared by its runs in this process), or a fresh one. Bounded: old batches are dropped. */
  const sessionFor = (batch: string | undefined): RegistrySession => {
    if (!batch) return options.createSession();
    const at = now().getTime();
    for (const [key, held] of batchSessions) if (at - held.at > BATCH_SESSION_MS) batchSessions.delete(key);
    let held = batchSessions.get(batch);
    if (!held) {
      held = { session: options.createSession(batch), at };
      batchSessions.set(batch, held);
      while (batchSessions.size > MAX_BATCH_SESSIONS) batchSessions.delete(batchSessions.keys().next().value!);
    }
    return held.session;
  };

  /** Counts the client's GitHub requests (once per client). */
  const instrument = (octokit: ProbotOctokit): ProbotOctokit => {
    if (instrumented.has(octokit)) return octokit;
    instrumented.add(octokit);
    octokit.hook.after("request", (response, request) => metrics.githubRequest(request.method, response.status, false));
    octokit.hook.error("request", (error, request) => {
      const failure = error as { status?: number; response?: { headers?: Record<string, string | undefined> } };
      const status = failure.status ?? 0;
      const headers = failure.response?.headers ?? {};
      const limited = (status === 403 || status === 429) && (headers["x-ratelimit-remaining"] === "0" || headers["retry-after"] !== undefined);
      metrics.githubRequest(request.method, status, limited);
      throw error;
    });
    return octokit;
  };

  /** Remembers the tags a repository follows after a run; an index that cannot be written never fails the run. */
  const remember = async (job: RefreshJob, outcome: RefreshOutcome, log: Logger): Promise<void> => {
    if (outcome.status === "config-error") return;
    const entry = { installationId: job.installationId, owner: job.owner, repo: job.repo, ...(job.defaultBranch ? { defaultBranch: job.defaultBranch } : {}) };
    await pins.record(entry, outcome.status === "done" ? outcome.followed : []).catch((error: unknown) => log.warn({ err: error }, "could not record the tags this repository follows"));
  };

  const runRefresh = async (job: RefreshJob, context: JobContext): Promise<RefreshOutcome> => {
    const repoLog = appLog().child({ installation: job.installationId, repository: `${job.owner}/${job.repo}` });
    const startedAt = now();
    const seconds = () => (now().getTime() - startedAt.getTime()) / 1000;
    repoLog.info({ reason: job.reason, attempt: context.attempt, job: context.id }, "refresh started");
    try {
      const outcome = await refreshRepository({
        octokit: instrument(await probot!.auth(job.installationId)),
        repository: { owner: job.owner, repo: job.repo },
        ...(job.defaultBranch ? { defaultBranch: job.defaultBranch } : {}),
        session: sessionFor(job.batch),
        log: repoLog,
        ...(await ownLogin().then((login) => (login ? { botLogin: login } : {}))),
        ...(options.limits ? { limits: options.limits } : {}),
        now,
      });
      await book.ran(job.owner, job.repo, startedAt, "schedule" in outcome ? outcome.schedule : undefined);
      await remember(job, outcome, repoLog);
      metrics.run(job.reason, outcome.status, seconds());
      return outcome;
    } catch (error) {
      metrics.run(job.reason, "failed", seconds());
      await Promise.resolve(book.ran(job.owner, job.repo, startedAt, undefined)).catch(() => undefined);
      const retry = context.attempt < context.attempts;
      repoLog.error({ err: error, reason: job.reason, attempt: context.attempt, retry }, "refresh failed");
      throw error;
    }
  };

  const runSweep = async (job: SweepJob): Promise<SweepReport> => {
    const at = now();
    if (job.force || (await book.isStale(at, options.repositoryListMaxAgeMs ?? 3_600_000))) {
      await book.replaceAll(await listInstalledRepositories(probot!, appLog()), at);
    }
    const all = await book.all();
    const chosen = job.force ? all : await book.due(at);
    const batch = `${job.reason}:${at.toISOString()}:${randomUUID()}`;
    for (const entry of chosen) {
      // Marked before it runs: the next look for due repositories must not queue it again while it waits.
      if (!job.force) await book.ran(entry.owner, entry.repo, at, undefined);
    }
    // In turns across installations, so that the runs at once write for different installations (see the function).
    await enqueueAll(interleaveByInstallation(chosen), job.force ? "sweep" : "schedule", batch);
    appLog().info({ repositories: all.length, queued: chosen.length, reason: job.reason }, "sweep queued");
    return { repositories: all.length, queued: chosen.length };
  };

  const handle = (job: Job, context: JobContext): Promise<unknown> => (job.kind === "sweep" ? runSweep(job) : runRefresh(job, context));

  const enqueueAll = async (entries: readonly RepositoryEntry[], reason: string, batch: string): Promise<void> => {
    await Promise.all(
      entries.map((entry) =>
        queue.add({
          kind: "refresh",
          installationId: entry.installationId,
          owner: entry.owner,
          repo: entry.repo,
          ...(entry.defaultBranch ? { defaultBranch: entry.defaultBranch } : {}),
          reason,
          batch,
        }),
      ),
    );
  };

  /** Queues a refresh of the repositories following any of these tags; says how many. */
  const pushed = async (tags: readonly string[], reason: string): Promise<number> => {
    const targets = new Map<string, RepositoryEntry>();
    for (const tag of tags) for (const entry of await pins.following(tag)) targets.set(repositoryKey(entry.owner, entry.repo), entry);
    await Promise.all([...targets.values()].map((entry) => queue.add({ kind: "refresh", ...entry, reason })));
    return targets.size;
  };

  const refresh: DigestaController["refresh"] = async (target) => {
    try {
      const handle = await queue.add({ kind: "refresh", ...target });
      return (await handle.finished()) as RefreshOutcome;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  };

  const sweep: DigestaController["sweep"] = async ({ force = false } = {}) => {
    const handle = await queue.add({ kind: "sweep", force, reason: force ? "sweep" : "schedule" });
    return (await handle.finished()) as SweepReport;
  };

  const entriesOf = (installationId: number, repositories: readonly { full_name: string; name: string }[]): RepositoryEntry[] =>
    repositories.map((r) => {
      const [owner = "", repo = r.name] = r.full_name.split("/");
      return { installationId, owner, repo };
    });

  const app: ApplicationFunction = (loaded, { addHandler }) => {
    probot = loaded;
    log = loaded.log.child({ name: "digesta" });

    loaded.on(["installation.created", "installation.new_permissions_accepted", "installation.unsuspend"], async (context) => {
      const installationId = context.payload.installation.id;
      // `new_permissions_accepted` and `unsuspend` do not list the repositories: ask GitHub.
      const repositories =
        context.payload.repositories ??
        (await context.octokit.paginate(context.octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 }));
      const entries = entriesOf(installationId, repositories);
      for (const entry of entries) await book.add(entry);
      await enqueueAll(entries, `installation.${context.payload.action}`, `installation:${context.id}`);
    });

    loaded.on("installation_repositories.added", async (context) => {
      const entries = entriesOf(context.payload.installation.id, context.payload.repositories_added);
      for (const entry of entries) await book.add(entry);
      await enqueueAll(entries, "repositories added", `installation:${context.id}`);
    });

    loaded.on("installation_repositories.removed", async (context) => {
      for (const entry of entriesOf(context.payload.installation.id, context.payload.repositories_removed)) {
        await book.remove(entry.owner, entry.repo);
        await pins.forget(entry.owner, entry.repo);
      }
    });

    loaded.on(["installation.deleted", "installation.suspend"], async (context) => {
      await book.removeInstallation(context.payload.installation.id);
    });

    loaded.on("push", async (context) => {
      const { payload } = context;
      const repository = payload.repository;
      if (!payload.installation || payload.deleted) return;
      if (payload.ref !== `refs/heads/${repository.default_branch}`) return;
      const owner = repository.full_name.split("/")[0] ?? "";
      const target = { installationId: payload.installation.id, owner, repo: repository.name, defaultBranch: repository.default_branch };
      await book.add(target);
      if (!(await pushTouchesPins(instrument(context.octokit as ProbotOctokit), owner, repository.name, payload.before, payload.after))) {
        context.log.debug("push changes no pinned reference and no configuration; nothing to do");
        return;
      }
      await queue.add({ kind: "refresh", ...target, reason: "push" });
    });

    // The package-changes comment on pull requests that move a digest, and `/digesta` commands in comments.
    conversations = registerConversations(loaded, {
      createSession: () => options.createSession(),
      refresh: (target) => refresh(target),
      botLogin: ownLogin,
      log: appLog,
    });

    // A container pushed to ghcr.io (GitHub's `registry_package` event): as a registry's own push notification.
    loaded.on("registry_package.published", async (context) => {
      const tag = publishedPackageTag(context.payload);
      if (!tag) return;
      const queued = await pushed([tag], "registry push");
      context.log.info({ tag, queued }, "registry package published");
    });

    addHandler(createSweepHandler({ secret: options.sweepSecret, sweep, log: log }));
    addHandler(createRegistryEventsHandler({ secret: options.registryEventsSecret, pushed, log: log }));
    addHandler(createMetricsHandler(metrics, options.metricsSecret));

    if (options.work !== false) queue.work(handle, { concurrency });
    if (options.schedulerIntervalMs !== false) {
      queue
        .repeat("schedule", options.schedulerIntervalMs ?? 60_000, { kind: "sweep", force: false, reason: "schedule" })
        .catch((error: unknown) => appLog().error({ err: error }, "could not set up the schedule"));
    }
  };

  return {
    app,
    queue,
    metrics,
    refresh,
    sweep,
    idle: async () => {
      await Promise.all([closing ?? queue.idle(), conversations?.idle()]);
    },
    stop: () => {
      closing ??= queue.close();
    },
  };
}
