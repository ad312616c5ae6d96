import pLimit from "p-limit";
import type { Logger } from "pino";
import type { Probot, ProbotOctokit } from "probot";
import { DEFAULT_CONFIG } from "../config/schema.js";
import { isDue } from "../policy/schedule.js";

/** A repository the app is installed on, and what the scheduler knows of it. */
export interface KnownRepository {
  readonly installationId: number;
  readonly owner: string;
  readonly repo: string;
  readonly defaultBranch?: string;
  /** From the repository's configuration at its last run; the default until then. */
  schedule: string;
  /** When the last run started; the app's start until the first. */
  lastRun: Date;
}

type Awaitable<T> = T | Promise<T>;

export interface RepositoryEntry {
  readonly installationId: number;
  readonly owner: string;
  readonly repo: string;
  readonly defaultBranch?: string;
}

/**
 * What the scheduler knows of the installed repositories: in this process's memory ({@link RepositoryBook}), or in
 * Redis for a fleet, where every process sees the same runs and schedules.
 */
export interface RepositoryBookLike {
  add(entry: RepositoryEntry): Awaitable<unknown>;
  remove(owner: string, repo: string): Awaitable<void>;
  removeInstallation(installationId: number): Awaitable<void>;
  /** Records a run (or a scheduled run queued): when, and the schedule the repository's configuration asked for. */
  ran(owner: string, repo: string, startedAt: Date, schedule: string | undefined): Awaitable<void>;
  all(): Awaitable<KnownRepository[]>;
  due(now: Date): Awaitable<KnownRepository[]>;
  isStale(now: Date, maxAgeMs: number): Awaitable<boolean>;
  replaceAll(entries: readonly RepositoryEntry[], now: Date): Awaitable<void>;
}

/** Whether a repository's schedule has fired since its last run (the default schedule where its own is unreadable). */
export function isRepositoryDue(entry: KnownRepository, now: Date): boolean {
  try {
    return isDue(entry.schedule, `${entry.owner}/${entry.repo}`, entry.lastRun, now);
  } catch {
    return isDue(DEFAULT_CONFIG.schedule, `${entry.owner}/${entry.repo}`, entry.lastRun, now);
  }
}

/** The repositories of every installation, kept in memory (rebuilt from GitHub when stale). */
export class RepositoryBook implements RepositoryBookLike {
  readonly #repositories = new Map<string, KnownRepository>();
  #listedAt: number | undefined;

  constructor(private readonly startedAt: Date) {}

  static key(owner: string, repo: string): string {
    return `${owner}/${repo}`.toLowerCase();
  }

  get(owner: string, repo: string): KnownRepository | undefined {
    return this.#repositories.get(RepositoryBook.key(owner, repo));
  }

  all(): KnownRepository[] {
    return [...this.#repositories.values()];
  }

  /** Adds (or refreshes) a repository, keeping what is known of its schedule. */
  add(entry: RepositoryEntry): KnownRepository {
    const key = RepositoryBook.key(entry.owner, entry.repo);
    const known = this.#repositories.get(key);
    const next: KnownRepository = {
      ...entry,
      schedule: known?.schedule ?? DEFAULT_CONFIG.schedule,
      lastRun: known?.lastRun ?? this.startedAt,
    };
    this.#repositories.set(key, next);
    return next;
  }

  remove(owner: string, repo: string): void {
    this.#repositories.delete(RepositoryBook.key(owner, repo));
  }

  removeInstallation(installationId: number): void {
    for (const [key, entry] of this.#repositories) if (entry.installationId === installationId) this.#repositories.delete(key);
  }

  /** Records a run: when it started, and the schedule the repository's configuration asked for. */
  ran(owner: string, repo: string, startedAt: Date, schedule: string | undefined): void {
    const entry = this.#repositories.get(RepositoryBook.key(owner, repo));
    if (!entry) return;
    entry.lastRun = startedAt;
    if (schedule) entry.schedule = schedule;
  }

  due(now: Date): KnownRepository[] {
    return this.all().filter((entry) => isRepositoryDue(entry, now));
  }

  isStale(now: Date, maxAgeMs: number): boolean {
    return this.#listedAt === undefined || now.getTime() - this.#listedAt > maxAgeMs;
  }

  /** Replaces the book's content with what GitHub lists now. */
  replaceAll(entries: readonly RepositoryEntry[], now: Date): void {
    const keep = new Set(entries.map((e) => RepositoryBook.key(e.owner, e.repo)));
    for (const key of this.#repositories.keys()) if (!keep.has(key)) this.#repositories.delete(key);
    for (const entry of entries) this.add(entry);
    this.#listedAt = now.getTime();
  }
}

/**
 * The repositories in turns, one installation after another (first of each, then second of each…), keeping each
 * installation's own order. Octokit writes for one installation one at a time, a second apart: queued installation
 * by installation, the runs at once would mostly wait on the same installation's writes, while other installations'
 * could go at the same time.
 */
export function interleaveByInstallation<T extends { readonly installationId: number }>(entries: readonly T[]): T[] {
  const byInstallation = new Map<number, T[]>();
  for (const entry of entries) {
    const list = byInstallation.get(entry.installationId);
    if (list) list.push(entry);
    else byInstallation.set(entry.installationId, [entry]);
  }
  const lists = [...byInstallation.values()];
  const longest = Math.max(0, ...lists.map((list) => list.length));
  const turns: T[] = [];
  for (let i = 0; i < longest; i++) for (const list of lists) if (i < list.length) turns.push(list[i]!);
  return turns;
}

/**
 * Lists every repository of every installation of the app (suspended installations and archived or disabled
 * repositories left out), with the installation's authenticated client for each.
 */
export async function listInstalledRepositories(
  app: Probot,
  log: Logger,
): Promise<RepositoryEntry[]> {
  const appOctokit = await app.auth();
  const installations = await appOctokit.paginate(appOctokit.rest.apps.listInstallations, { per_page: 100 });
  const found: RepositoryEntry[] = [];
  const limit = pLimit(4);
  await Promise.all(
    installations
      .filter((installation) => !installation.suspended_at)
      .map((installation) =>
        limit(async () => {
          try {
            const octokit: ProbotOctokit = await app.auth(installation.id);
            const repositories = await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 });
            for (const repository of repositories) {
              if (repository.archived || repository.disabled) continue;
              found.push({
                installationId: installation.id,
                owner: repository.owner.login,
                repo: repository.name,
                ...(repository.default_branch ? { defaultBranch: repository.default_branch } : {}),
              });
            }
          } catch (error) {
            log.warn({ installation: installation.id, err: error }, "could not list the installation's repositories");
          }
        }),
      ),
  );
  return found;
}
