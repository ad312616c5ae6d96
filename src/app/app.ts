import pLimit from "p-limit";
import type { ApplicationFunction, Logger, Probot, ProbotOctokit } from "probot";
import { registerConversations, type Conversations } from "./conversations.js";
import { refreshRepository, type RefreshOutcome } from "./refresh.js";
import { pushTouchesPins } from "./push-filter.js";
import { RunGuard } from "./run-guard.js";
import type { RegistrySession } from "./session.js";
import { createSweepHandler } from "./sweep-endpoint.js";
import { listInstalledRepositories, RepositoryBook } from "./sweep.js";
import type { ExtractLimits } from "../github/tarball.js";

export interface DigestaAppOptions {
  /** A fresh registry session (client, pin follower, caches): one per sweep, one per single run. */
  readonly createSession: () => RegistrySession;
  /** Protects `POST /digesta/sweep`; without it the endpoint answers 503. */
  readonly sweepSecret?: string;
  /** How often the in-process scheduler looks for due repositories; `false` turns it off. Default one minute. */
  readonly schedulerIntervalMs?: number | false;
  /** Repositories refreshed at once in a sweep or after an installation. Default 4. */
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
  readonly repositories: number;
  readonly ran: number;
  readonly failed: number;
}

/** The app, and the handles its server and tests use. */
export interface DigestaController {
  /** Load with Probot's `run`, `Server#load` or `Probot#load`. */
  readonly app: ApplicationFunction;
  /**
   * Refreshes one repository now, through the one-run-per-repository guard (a run already going gets one merged
   * rerun). Never throws: a failure is logged and returned. For later triggers (pull requests, comment commands).
   */
  refresh(target: RefreshTarget, session?: RegistrySession, octokit?: ProbotOctokit): Promise<RefreshOutcome | Error>;
  /** Refreshes the due repositories of every installation (all of them with `force`), sharing one registry session. */
  sweep(options?: { readonly force?: boolean }): Promise<SweepReport>;
  /** Resolves when no run and no sweep is going. */
  idle(): Promise<void>;
  /** Stops the scheduler. */
  stop(): void;
}

export function createDigesta(options: DigestaAppOptions): DigestaController {
  const now = options.now ?? (() => new Date());
  const guard = new RunGuard();
  const book = new RepositoryBook(now());
  const concurrency = options.concurrency ?? 4;
  let probot: Probot | undefined;
  let log: Logger | undefined;
  let botLogin: Promise<string | undefined> | undefined;
  let sweeping: Promise<SweepReport> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let conversations: Conversations | undefined;

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

  const refresh: DigestaController["refresh"] = async (target, session, octokit) => {
    const key = RepositoryBook.key(target.owner, target.repo);
    const repoLog = appLog().child({ installation: target.installationId, repository: `${target.owner}/${target.repo}` });
    return guard.run(key, async () => {
      const startedAt = now();
      repoLog.info({ reason: target.reason }, "refresh started");
      try {
        const outcome = await refreshRepository({
          octokit: octokit ?? (await probot!.auth(target.installationId)),
          repository: { owner: target.owner, repo: target.repo },
          ...(target.defaultBranch ? { defaultBranch: target.defaultBranch } : {}),
          session: session ?? options.createSession(),
          log: repoLog,
          ...(await ownLogin().then((login) => (login ? { botLogin: login } : {}))),
          ...(options.limits ? { limits: options.limits } : {}),
          now,
        });
        book.ran(target.owner, target.repo, startedAt, "schedule" in outcome ? outcome.schedule : undefined);
        return outcome;
      } catch (error) {
        book.ran(target.owner, target.repo, startedAt, undefined);
        repoLog.error({ err: error }, "refresh failed");
        return error instanceof Error ? error : new Error(String(error));
      }
    });
  };

  const refreshAll = async (targets: readonly RefreshTarget[], session: RegistrySession): Promise<SweepReport> => {
    const limit = pLimit(concurrency);
    const outcomes = await Promise.all(targets.map((target) => limit(() => refresh(target, session))));
    return { repositories: targets.length, ran: outcomes.length, failed: outcomes.filter((o) => o instanceof Error).length };
  };

  const sweep: DigestaController["sweep"] = ({ force = false } = {}) => {
    // A sweep asked for while one is going is the same sweep.
    sweeping ??= (async () => {
      try {
        const at = now();
        if (force || book.isStale(at, options.repositoryListMaxAgeMs ?? 3_600_000)) {
          book.replaceAll(await listInstalledRepositories(probot!, appLog()), at);
        }
        const chosen = force ? book.all() : book.due(at);
        const report = await refreshAll(
          chosen.map((entry) => ({
            installationId: entry.installationId,
            owner: entry.owner,
            repo: entry.repo,
            ...(entry.defaultBranch ? { defaultBranch: entry.defaultBranch } : {}),
            reason: force ? "sweep" : "schedule",
          })),
          options.createSession(),
        );
        appLog().info({ ...report, total: book.all().length }, "sweep finished");
        return { ...report, repositories: book.all().length };
      } finally {
        sweeping = undefined;
      }
    })();
    return sweeping;
  };

  const app: ApplicationFunction = (loaded, { addHandler }) => {
    probot = loaded;
    log = loaded.log.child({ name: "digesta" });

    loaded.on(["installation.created", "installation.new_permissions_accepted", "installation.unsuspend"], async (context) => {
      const installationId = context.payload.installation.id;
      // `new_permissions_accepted` and `unsuspend` do not list the repositories: ask GitHub.
      const repositories =
        context.payload.repositories ??
        (await context.octokit.paginate(context.octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 }));
      await refreshAll(
        repositories.map((r) => {
          const [owner = "", repo = r.name] = r.full_name.split("/");
          book.add({ installationId, owner, repo });
          return { installationId, owner, repo, reason: `installation.${context.payload.action}` };
        }),
        options.createSession(),
      );
    });

    loaded.on("installation_repositories.added", async (context) => {
      const installationId = context.payload.installation.id;
      await refreshAll(
        context.payload.repositories_added.map((r) => {
          const [owner = "", repo = r.name] = r.full_name.split("/");
          book.add({ installationId, owner, repo });
          return { installationId, owner, repo, reason: "repositories added" };
        }),
        options.createSession(),
      );
    });

    loaded.on("installation_repositories.removed", async (context) => {
      for (const r of context.payload.repositories_removed) {
        const [owner = "", repo = r.name] = r.full_name.split("/");
        book.remove(owner, repo);
      }
    });

    loaded.on(["installation.deleted", "installation.suspend"], async (context) => {
      book.removeInstallation(context.payload.installation.id);
    });

    loaded.on("push", async (context) => {
      const { payload } = context;
      const repository = payload.repository;
      if (!payload.installation || payload.deleted) return;
      if (payload.ref !== `refs/heads/${repository.default_branch}`) return;
      const owner = repository.full_name.split("/")[0] ?? "";
      const target = { installationId: payload.installation.id, owner, repo: repository.name, defaultBranch: repository.default_branch };
      book.add(target);
      if (!(await pushTouchesPins(context.octokit, owner, repository.name, payload.before, payload.after))) {
        context.log.debug("push changes no pinned reference and no configuration; nothing to do");
        return;
      }
      await refresh({ ...target, reason: "push" }, undefined, context.octokit);
    });

    // The package-changes comment on pull requests that move a digest, and `/digesta` commands in comments.
    conversations = registerConversations(loaded, {
      createSession: options.createSession,
      refresh: (target, octokit) => refresh(target, undefined, octokit),
      botLogin: ownLogin,
      log: appLog,
    });

    addHandler(createSweepHandler({ secret: options.sweepSecret, sweep, log: log }));

    if (options.schedulerIntervalMs !== false) {
      const interval = options.schedulerIntervalMs ?? 60_000;
      timer = setInterval(() => {
        if (sweeping) return;
        sweep().catch((error: unknown) => appLog().error({ err: error }, "scheduled sweep failed"));
      }, interval);
      timer.unref();
    }
  };

  return {
    app,
    refresh,
    sweep,
    idle: async () => {
      while (sweeping) await sweeping.catch(() => undefined);
      await Promise.all([guard.idle(), conversations?.idle()]);
    },
    stop: () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
