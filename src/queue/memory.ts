import { DEFAULT_RETRY, jobKey, type Job, type JobHandle, type JobHandler, type JobQueue, type QueueDepth, type RetryPolicy } from "./types.js";

interface Entry {
  readonly id: string;
  job: Job;
  attempt: number;
  readonly queuedAt: number;
  /** Set while the entry waits for a retry. */
  retryAt?: number;
  readonly promise: Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export interface MemoryQueueOptions {
  readonly retry?: RetryPolicy;
  readonly now?: () => number;
}

/**
 * The single-process queue (no Redis): the same promises as the Redis one, kept in this process's memory. A job
 * that is still waiting when the process ends is lost with it; GitHub holds the state, and the next trigger or
 * scheduled run finds the repository as it is.
 */
export function createMemoryQueue(options: MemoryQueueOptions = {}): JobQueue {
  const retry = options.retry ?? DEFAULT_RETRY;
  const now = options.now ?? Date.now;
  /** Key → the job waiting (or delayed for a retry) for it; at most one per key. */
  const waiting = new Map<string, Entry>();
  /** Keys ready to run, in the order they became ready. */
  const ready: string[] = [];
  const active = new Map<string, Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  const idlers: (() => void)[] = [];
  let handler: JobHandler | undefined;
  let concurrency = 1;
  let closed = false;
  let nextId = 1;

  const settleIdle = () => {
    if (waiting.size > 0 || active.size > 0) return;
    for (const wake of idlers.splice(0)) wake();
  };

  const pump = () => {
    while (handler && !closed && active.size < concurrency && ready.length > 0) {
      const key = ready.shift()!;
      const entry = waiting.get(key);
      if (!entry || entry.retryAt !== undefined || active.has(key)) continue;
      waiting.delete(key);
      start(key, entry, handler);
    }
    settleIdle();
  };

  const start = (key: string, entry: Entry, run: JobHandler) => {
    const done = (async () => {
      try {
        entry.resolve(await run(entry.job, { id: entry.id, attempt: entry.attempt, attempts: retry.attempts, queuedAt: entry.queuedAt }));
      } catch (error) {
        if (entry.attempt >= retry.attempts || closed) {
          entry.reject(error);
          return;
        }
        const later = waiting.get(key);
        if (later) {
          // A newer trigger already waits: its run is this one's retry.
          later.promise.then(entry.resolve, entry.reject);
          return;
        }
        entry.attempt += 1;
        const delay = retry.backoffMs * 2 ** (entry.attempt - 2);
        entry.retryAt = now() + delay;
        waiting.set(key, entry);
        const timer = setTimeout(() => {
          timers.delete(timer);
          delete entry.retryAt;
          if (waiting.get(key) === entry) ready.push(key);
          pump();
        }, delay);
        timers.add(timer);
      }
    })().finally(() => {
      active.delete(key);
      const next = waiting.get(key);
      if (next && next.retryAt === undefined && !ready.includes(key)) ready.push(key);
      pump();
    });
    active.set(key, done);
  };

  return {
    kind: "memory",
    async add(job): Promise<JobHandle> {
      if (closed) throw new Error("the queue is closed");
      const key = jobKey(job);
      const found = waiting.get(key);
      if (found) return handleOf(found, true);
      let resolve!: (value: unknown) => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<unknown>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Nobody may ask for the result (webhooks do not): a failure is the handler's to log, not an unhandled rejection.
      promise.catch(() => undefined);
      const entry: Entry = { id: String(nextId++), job, attempt: 1, queuedAt: now(), promise, resolve, reject };
      waiting.set(key, entry);
      if (!active.has(key)) ready.push(key);
      pump();
      return handleOf(entry, false);
    },
    work(run, { concurrency: n }) {
      handler = run;
      concurrency = Math.max(1, n);
      pump();
    },
    async repeat(_name, everyMs, job) {
      const timer = setInterval(() => {
        if (!closed) this.add(job).catch(() => undefined);
      }, everyMs);
      timer.unref();
      timers.add(timer);
    },
    async depth(): Promise<QueueDepth> {
      const entries = [...waiting.values()];
      const delayed = entries.filter((e) => e.retryAt !== undefined).length;
      const oldest = Math.min(...entries.filter((e) => e.retryAt === undefined).map((e) => e.queuedAt));
      return { waiting: entries.length - delayed, active: active.size, delayed, oldestWaitingMs: Number.isFinite(oldest) ? Math.max(0, now() - oldest) : 0 };
    },
    idle() {
      if (waiting.size === 0 && active.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idlers.push(resolve));
    },
    async close({ graceMs = 30_000 } = {}) {
      closed = true;
      for (const timer of timers) {
        clearTimeout(timer);
        clearInterval(timer);
      }
      timers.clear();
      for (const [key, entry] of waiting) {
        waiting.delete(key);
        entry.reject(new Error("the queue closed before this job ran"));
      }
      ready.length = 0;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...active.values()]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
      settleIdle();
    },
  };
}

function handleOf(entry: Entry, deduplicated: boolean): JobHandle {
  return { id: entry.id, deduplicated, finished: () => entry.promise };
}
