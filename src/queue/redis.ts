import { randomUUID } from "node:crypto";
import { Job as BullJob, Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { DEFAULT_RETRY, jobKey, type Job, type JobHandle, type JobHandler, type JobQueue, type QueueDepth, type RetryPolicy } from "./types.js";

export interface RedisQueueOptions {
  /** `redis://host:port/db` (`REDIS_URL`). */
  readonly url: string;
  /** The BullMQ queue's name. Default `digesta`. */
  readonly name?: string;
  /** Prefix of every key. Default `digesta`. */
  readonly prefix?: string;
  readonly retry?: RetryPolicy;
  /**
   * How long a worker's hold on a running job lasts without being renewed (it renews at half that). A worker killed
   * mid-run loses it after this long, and the job runs again elsewhere. Default 30 s.
   */
  readonly lockMs?: number;
  /** How long a waiting trigger may wait for the result of its job (`/digesta refresh`). Default 15 minutes. */
  readonly resultTimeoutMs?: number;
}

/**
 * Redis's clock, in microseconds since the epoch, as a decimal string (exact: a Lua number printed would be rounded).
 * Every process reads the same clock, so a trigger's time and a run's start compare across machines.
 */
const NOW = `local t = redis.call("TIME") return t[1] .. string.format("%06d", tonumber(t[2]))`;
/** Records when a job started (its first start: a rerun keeps it) under its key, dropping starts older than ARGV[2] s. */
const RUN_STARTED = `local t = redis.call("TIME")
redis.call("ZADD", KEYS[1], "NX", t[1] .. string.format("%06d", tonumber(t[2])), ARGV[1])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", "(" .. (tonumber(t[1]) - tonumber(ARGV[2])) .. "000000")
redis.call("EXPIRE", KEYS[1], ARGV[2])
return 1`;
/** How long the starts of runs are remembered: longer than any trigger waits for its answer. */
const RUNS_KEPT_S = 3600;

/** How long finished jobs are kept (for `finished()` and for operators looking at the queue), and how many. */
const KEEP_COMPLETED = { age: 3600, count: 5000 };
const KEEP_FAILED = { age: 7 * 24 * 3600, count: 5000 };

/**
 * Fleet mode's queue: BullMQ on Redis, shared by every process. A repository's trigger is deduplicated by BullMQ's
 * deduplication id (the repository), `keepLastIfActive` keeping one next job while one runs, so no two processes
 * ever run the same repository at once. A worker that dies mid-run stops renewing its lock: after `lockMs` the job
 * counts as stalled and goes back to the queue for another worker.
 *
 * A trigger is answered by the first run of its repository that starts after it was queued: the waiting job it
 * joined, the job it queued, or, when a run was already going, the run queued after that one (a run that started
 * before the trigger may have read older files and tags). Workers note when each job starts, on Redis's clock.
 */
export function createRedisQueue(options: RedisQueueOptions): JobQueue {
  const name = options.name ?? "digesta";
  const prefix = options.prefix ?? "digesta";
  const retry = options.retry ?? DEFAULT_RETRY;
  const lockMs = options.lockMs ?? 30_000;
  // Producers fail fast when Redis is away (a webhook is answered 503 and GitHub redelivers it) instead of waiting.
  const producer = new Redis(options.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
  producer.on("error", () => undefined);
  const queue = new Queue<Job>(name, { connection: producer, prefix });
  queue.on("error", () => undefined);
  /** Connections this queue opened for BullMQ (which leaves given connections open), closed with it. */
  const connections: Redis[] = [producer];
  const connect = (): Redis => {
    const connection = new Redis(options.url, { maxRetriesPerRequest: null });
    connection.on("error", () => undefined);
    connections.push(connection);
    return connection;
  };
  let worker: Worker<Job> | undefined;
  let closed = false;

  /**
   * The job's result, read from Redis until it is finished: polling, rather than QueueEvents' stream, cannot miss
   * the moment it finished, whichever process ran it.
   */
  const resultOf = async (id: string): Promise<unknown> => {
    const deadline = Date.now() + (options.resultTimeoutMs ?? 15 * 60_000);
    for (let pause = 25; ; pause = Math.min(500, pause * 2)) {
      const state = await queue.getJobState(id);
      if (state === "completed") return (await BullJob.fromId(queue, id))?.returnvalue;
      if (state === "failed") throw new Error((await BullJob.fromId(queue, id))?.failedReason || "the job failed");
      if (state === "unknown") throw new Error(`job ${id} is gone from the queue`);
      if (Date.now() > deadline) throw new Error(`job ${id} did not finish in time`);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  };

  const runsKey = (job: Job) => `${prefix}:runs:${jobKey(job)}`;

  /** The result of the first run of `job`'s key that started after `since` (Redis's clock, µs). */
  const firstRunAfter = async (job: Job, since: string): Promise<unknown> => {
    const deadline = Date.now() + (options.resultTimeoutMs ?? 15 * 60_000);
    for (let pause = 25; ; pause = Math.min(500, pause * 2)) {
      const [id] = await producer.zrangebyscore(runsKey(job), `(${since}`, "+inf", "LIMIT", 0, 1);
      if (id) return resultOf(id);
      if (Date.now() > deadline) throw new Error(`no run of ${jobKey(job)} started in time`);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  };

  return {
    kind: "redis",
    async add(job) {
      if (closed) throw new Error("the queue is closed");
      const id = randomUUID();
      // Read once the connection is up (the producer does not queue commands while it connects).
      const since = String(await queue.waitUntilReady().then(() => producer.eval(NOW, 0)));
      const added = await queue.add(job.kind, job, {
        jobId: id,
        deduplication: { id: jobKey(job), keepLastIfActive: true },
        attempts: retry.attempts,
        backoff: { type: "exponential", delay: retry.backoffMs },
        removeOnComplete: KEEP_COMPLETED,
        removeOnFail: KEEP_FAILED,
      });
      return { id: String(added.id), deduplicated: added.id !== id, finished: () => firstRunAfter(job, since) };
    },
    work(handler: JobHandler, { concurrency }) {
      const starts = connect();
      worker = new Worker<Job>(
        name,
        async (job) => {
          // Noted before the run, for the triggers waiting for a run that starts after them. A note that cannot be
          // written leaves them waiting for a later run; it never stops this one.
          await starts.eval(RUN_STARTED, 1, runsKey(job.data), String(job.id), RUNS_KEPT_S).catch(() => undefined);
          return handler(job.data, {
            id: String(job.id),
            attempt: job.attemptsMade + 1,
            attempts: job.opts.attempts ?? 1,
            queuedAt: job.timestamp,
          });
        },
        {
          connection: connect(),
          prefix,
          concurrency: Math.max(1, concurrency),
          lockDuration: lockMs,
          stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
          // A job whose worker died twice still gets a third try; a job that kills every worker fails for good.
          maxStalledCount: 2,
        },
      );
      worker.on("error", () => undefined);
    },
    async repeat(schedulerId, everyMs, job) {
      // Upserted by every process with the same id: one scheduler in Redis, one job per interval for the fleet.
      await queue.upsertJobScheduler(schedulerId, { every: everyMs }, { name: job.kind, data: job, opts: { removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED } });
    },
    async depth(): Promise<QueueDepth> {
      const counts = await queue.getJobCounts("waiting", "prioritized", "active", "delayed");
      const oldest = await queue.getJobs(["waiting"], 0, 0, true);
      const first = oldest[0];
      return {
        waiting: (counts["waiting"] ?? 0) + (counts["prioritized"] ?? 0),
        active: counts["active"] ?? 0,
        delayed: counts["delayed"] ?? 0,
        oldestWaitingMs: first ? Math.max(0, Date.now() - first.timestamp) : 0,
      };
    },
    async idle() {
      // Drained for the whole fleet: nothing waiting, running or due for a retry (scheduled sweeps aside).
      for (;;) {
        const counts = await queue.getJobCounts("waiting", "prioritized", "active");
        const retries = (await queue.getJobs(["delayed"])).filter((job) => !job.repeatJobKey);
        if ((counts["waiting"] ?? 0) + (counts["prioritized"] ?? 0) + (counts["active"] ?? 0) + retries.length === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async close({ graceMs = 30_000 } = {}) {
      if (closed) return;
      closed = true;
      if (worker) {
        const finishing = worker.close();
        let timer: NodeJS.Timeout | undefined;
        const late = await Promise.race([
          finishing.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), graceMs);
          }),
        ]);
        clearTimeout(timer);
        // Still running after the grace: stop renewing its lock; the job goes back to the queue for another worker.
        if (late) await worker.close(true);
      }
      await queue.close().catch(() => undefined);
      for (const connection of connections) connection.disconnect();
    },
  };
}
