/**
 * The queue every trigger goes through: one job per repository to refresh, and sweep jobs that pick the due
 * repositories. Two implementations behind this interface: in memory (one process, the default) and on Redis with
 * BullMQ (fleet mode, `REDIS_URL`). Both promise the same:
 *
 * - a job waiting for its repository is not queued twice (a second trigger is answered by the waiting job);
 * - at most one job per repository runs at a time (across every process on Redis); a trigger that arrives while
 *   one runs waits as the single next job, so the run after it sees what the trigger was about, and is answered by
 *   that run;
 * - a job that throws is retried with exponential backoff, then fails for good;
 * - jobs carry their trigger's reason, for the logs and metrics.
 */

/** Refresh one repository. */
export interface RefreshJob {
  readonly kind: "refresh";
  readonly installationId: number;
  readonly owner: string;
  readonly repo: string;
  readonly defaultBranch?: string;
  /** The trigger: `installation.created`, `repositories added`, `push`, `schedule`, `sweep`, `command`, `registry push`… */
  readonly reason: string;
  /** Runs queued together (one sweep, one installation) share one batch: each unique tag is resolved once in it. */
  readonly batch?: string;
}

/** List the installed repositories and queue the due ones (all of them with `force`). */
export interface SweepJob {
  readonly kind: "sweep";
  readonly force: boolean;
  readonly reason: string;
}

export type Job = RefreshJob | SweepJob;

/** The key jobs are deduplicated and serialised by: one per repository, one per kind of sweep. */
export function jobKey(job: Job): string {
  if (job.kind === "sweep") return job.force ? "sweep:force" : "sweep";
  return repositoryKey(job.owner, job.repo);
}

export function repositoryKey(owner: string, repo: string): string {
  return `repo:${owner}/${repo}`.toLowerCase();
}

export interface JobHandle {
  readonly id: string;
  /** True when the job was already waiting (or queued to run next) and this trigger joined it. */
  readonly deduplicated: boolean;
  /**
   * The result of the first run of this repository that starts after the trigger: the waiting job it joined, the job
   * it queued, or the run queued after one that was already going (never a run that began before the trigger, which
   * may have read older files and tags). Rejects when that run failed for good.
   */
  finished(): Promise<unknown>;
}

export interface JobContext {
  readonly id: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly attempts: number;
  /** When the job was queued (ms since the epoch). */
  readonly queuedAt: number;
}

export type JobHandler = (job: Job, context: JobContext) => Promise<unknown>;

export interface RetryPolicy {
  /** Attempts in all, the first included. Default 3. */
  readonly attempts: number;
  /** Delay before the second attempt; doubles for each next one. Default 30 s. */
  readonly backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 30_000 };

export interface QueueDepth {
  readonly waiting: number;
  readonly active: number;
  /** Waiting for a retry. */
  readonly delayed: number;
  /** Age of the oldest job waiting to run, in ms (0 when none waits). */
  readonly oldestWaitingMs: number;
}

export interface JobQueue {
  readonly kind: "memory" | "redis";
  add(job: Job): Promise<JobHandle>;
  /** Starts taking jobs, `concurrency` at a time (the worker role). */
  work(handler: JobHandler, options: { readonly concurrency: number }): void;
  /** Queues `job` every `everyMs`, once for the whole fleet, until the queue is closed (the schedule). */
  repeat(name: string, everyMs: number, job: Job): Promise<void>;
  depth(): Promise<QueueDepth>;
  /** Resolves once no job waits or runs in this process (tests, shutdown). */
  idle(): Promise<void>;
  /**
   * Stops taking jobs and ends the schedule. Running jobs get `graceMs` to finish (default 30 s); on Redis, those
   * still running are handed back to the queue for another worker when this process exits.
   */
  close(options?: { readonly graceMs?: number }): Promise<void>;
}
