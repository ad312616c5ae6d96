// One suite for both queues: whatever holds the jobs (this process's memory, or Redis shared by a fleet), the
// promises to the app are the same.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { createMemoryQueue } from "../../src/queue/memory.js";
import { createRedisQueue } from "../../src/queue/redis.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import type { Job, JobHandler, JobQueue, RefreshJob, RetryPolicy } from "../../src/queue/types.js";

const FAST_RETRY: RetryPolicy = { attempts: 3, backoffMs: 20 };

export interface QueueFactory {
  readonly name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  /** Queues sharing one store (one process for memory: the same queue). */
  create(options: { retry?: RetryPolicy }): Promise<JobQueue[]>;
}

const memory: QueueFactory = {
  name: "memory",
  setUp: async () => undefined,
  tearDown: async () => undefined,
  create: async ({ retry = FAST_RETRY }) => {
    const queue = createMemoryQueue({ retry });
    return [queue, queue];
  },
};

let redis: TestRedis | undefined;
const onRedis: QueueFactory = {
  name: "Redis",
  setUp: async () => {
    redis = await startRedis();
  },
  tearDown: async () => redis?.stop(),
  // Two processes' worth of queues on one Redis, under a prefix of their own.
  create: async ({ retry = FAST_RETRY }) => {
    const prefix = `test-${randomUUID()}`;
    return [0, 1].map(() => createRedisQueue({ url: redis!.url, prefix, retry, lockMs: 10_000 }));
  },
};

const refresh = (repo: string, reason = "push"): RefreshJob => ({ kind: "refresh", installationId: 1, owner: "octo", repo, reason });

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export function queueContract(factory: QueueFactory): void {
  describe(`the ${factory.name} queue`, () => {
    let open: JobQueue[] = [];
    const queues = async (options: { retry?: RetryPolicy } = {}) => {
      const made = await factory.create(options);
      open.push(...made);
      return made;
    };
    beforeAll(() => factory.setUp());
    afterAll(() => factory.tearDown());
    afterEach(async () => {
      await Promise.all([...new Set(open)].map((q) => q.close({ graceMs: 2000 })));
      open = [];
    });

    it("queues a repository waiting to run once, however many triggers ask for it", async () => {
      const [web] = await queues();
      const first = await web!.add(refresh("app", "push"));
      const second = await web!.add(refresh("app", "schedule"));
      const third = await web!.add(refresh("App", "command"));
      const other = await web!.add(refresh("other"));
      expect(first.deduplicated).toBe(false);
      expect([second.deduplicated, third.deduplicated]).toEqual([true, true]);
      expect(second.id).toBe(first.id);
      expect(other.id).not.toBe(first.id);
      expect((await web!.depth()).waiting).toBe(2);
    });

    it("runs one job per repository at a time, in every process, and one more run for triggers during a run", async () => {
      const [a, b] = await queues();
      const gate = deferred();
      const runs: string[] = [];
      let running = 0;
      let most = 0;
      const handler: JobHandler = async (job) => {
        const name = job.kind === "refresh" ? `${job.repo}/${job.reason}` : "sweep";
        runs.push(name);
        most = Math.max(most, ++running);
        if (runs.length === 1) await gate.promise;
        running--;
        return name;
      };
      a!.work(handler, { concurrency: 4 });
      b!.work(handler, { concurrency: 4 });
      const first = await a!.add(refresh("app", "push"));
      await waitFor(() => runs.length === 1);
      // Arriving while the first run goes: one more run, whichever process takes it, after the first ends.
      await b!.add(refresh("app", "schedule"));
      await a!.add(refresh("app", "command"));
      await new Promise((r) => setTimeout(r, 300));
      expect(runs).toHaveLength(1);
      gate.resolve();
      expect(await first.finished()).toBe("app/push");
      await waitFor(() => runs.length === 2);
      await Promise.all([a!.idle(), b!.idle()]);
      expect(runs).toHaveLength(2);
      expect(most).toBe(1);
    });

    it("answers a trigger that arrives during a run with the run after it, never the one that started before it", async () => {
      const [a, b] = await queues();
      const gate = deferred();
      let runs = 0;
      const handler: JobHandler = async () => {
        const run = ++runs;
        if (run === 1) await gate.promise;
        return `run ${run}`;
      };
      a!.work(handler, { concurrency: 2 });
      b!.work(handler, { concurrency: 2 });
      const first = await a!.add(refresh("app", "push"));
      await waitFor(() => runs === 1);
      // Both arrive while run 1 goes (through either process): run 2, queued after it, answers both.
      const during = await b!.add(refresh("app", "command"));
      const again = await a!.add(refresh("app", "command"));
      const answers = Promise.all([during.finished(), again.finished()]);
      gate.resolve();
      expect(await first.finished()).toBe("run 1");
      expect(await answers).toEqual(["run 2", "run 2"]);
      // Once nothing runs, a trigger gets a run of its own.
      await Promise.all([a!.idle(), b!.idle()]);
      expect(await (await b!.add(refresh("app", "command"))).finished()).toBe("run 3");
      expect(runs).toBe(3);
    });

    it("runs different repositories side by side, up to the concurrency", async () => {
      const [a] = await queues();
      const gate = deferred();
      let running = 0;
      let most = 0;
      a!.work(
        async () => {
          most = Math.max(most, ++running);
          await gate.promise;
          running--;
        },
        { concurrency: 3 },
      );
      for (const repo of ["a", "b", "c", "d", "e"]) await a!.add(refresh(repo));
      await waitFor(() => running === 3);
      expect((await a!.depth())).toMatchObject({ active: 3, waiting: 2 });
      gate.resolve();
      await a!.idle();
      expect(most).toBe(3);
    });

    it("retries a failing job with backoff and gives its trigger the result, or the last error", async () => {
      const [a] = await queues();
      const attempts: number[] = [];
      a!.work(
        async (job, context) => {
          attempts.push(context.attempt);
          if (job.kind === "refresh" && job.repo === "flaky" && context.attempt < 2) throw new Error("GitHub said 502");
          if (job.kind === "refresh" && job.repo === "broken") throw new Error("always broken");
          return "ok";
        },
        { concurrency: 1 },
      );
      const flaky = await a!.add(refresh("flaky"));
      expect(await flaky.finished()).toBe("ok");
      expect(attempts).toEqual([1, 2]);
      const broken = await a!.add(refresh("broken"));
      await expect(broken.finished()).rejects.toThrow(/always broken/);
      expect(attempts).toEqual([1, 2, 1, 2, 3]);
    });

    it("carries the trigger's reason and batch to the handler", async () => {
      const [a] = await queues();
      const seen: Job[] = [];
      a!.work(async (job) => void seen.push(job), { concurrency: 1 });
      await (await a!.add({ ...refresh("app", "registry push"), batch: "b1" })).finished();
      await (await a!.add({ kind: "sweep", force: true, reason: "sweep" })).finished();
      expect(seen).toEqual([{ ...refresh("app", "registry push"), batch: "b1" }, { kind: "sweep", force: true, reason: "sweep" }]);
    });

    it("stops taking jobs once closed, and lets a running one finish", async () => {
      const [a] = await queues();
      const gate = deferred();
      const runs: string[] = [];
      const finished: string[] = [];
      a!.work(
        async (job) => {
          const name = job.kind === "refresh" ? job.repo : "sweep";
          runs.push(name);
          await gate.promise;
          finished.push(name);
        },
        { concurrency: 1 },
      );
      await a!.add(refresh("one"));
      await a!.add(refresh("two"));
      await waitFor(() => runs.length === 1);
      const closing = a!.close({ graceMs: 5000 });
      setTimeout(() => gate.resolve(), 100);
      await closing;
      expect(finished).toEqual(["one"]);
      expect(runs).toEqual(["one"]);
    });
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

queueContract(memory);
queueContract(onRedis);
