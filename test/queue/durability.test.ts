// Real worker processes on a real Redis: one killed with SIGKILL mid-job loses nothing (another worker runs the job);
// one stopped with SIGTERM finishes its job before it exits.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRedisQueue } from "../../src/queue/redis.js";
import type { JobQueue } from "../../src/queue/types.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";

describe("a fleet's workers dying", () => {
  let redis: TestRedis;
  let queues: JobQueue[] = [];
  let children: ChildProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());
  afterEach(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await Promise.all(queues.map((q) => q.close({ graceMs: 1000 })));
    queues = [];
    children = [];
  });

  function worker(prefix: string, holdMs: number): { child: ChildProcess; lines: string[]; saw: (line: string) => Promise<void> } {
    const child = spawn(process.execPath, ["--import", "tsx", "test/queue/worker-process.ts", redis.url, prefix], {
      env: { ...process.env, HOLD_MS: String(holdMs) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    const lines: string[] = [];
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => lines.push(...chunk.split("\n").filter(Boolean)));
    const saw = async (line: string) => {
      const deadline = Date.now() + 30_000;
      while (!lines.includes(line)) {
        if (Date.now() > deadline) throw new Error(`the worker never said ${JSON.stringify(line)}: ${lines.join(" | ")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    return { child, lines, saw };
  }

  const open = (prefix: string) => {
    const queue = createRedisQueue({ url: redis.url, prefix, lockMs: 1500, retry: { attempts: 3, backoffMs: 50 } });
    queues.push(queue);
    return queue;
  };

  it("runs the job of a worker killed with SIGKILL on another worker, once", async () => {
    const prefix = `durable-${randomUUID()}`;
    const doomed = worker(prefix, 60_000);
    await doomed.saw("ready");
    const web = open(prefix);
    const handle = await web.add({ kind: "refresh", installationId: 1, owner: "octo", repo: "app", reason: "push" });
    await doomed.saw("started app");
    doomed.child.kill("SIGKILL");

    const survivor = open(prefix);
    const runs: string[] = [];
    survivor.work(async (job) => {
      runs.push(job.kind === "refresh" ? job.repo : "sweep");
      return "done by the survivor";
    }, { concurrency: 1 });
    expect(await handle.finished()).toBe("done by the survivor");
    await survivor.idle();
    expect(runs).toEqual(["app"]);
  });

  it("lets a worker stopped with SIGTERM finish its job, and nobody runs it again", async () => {
    const prefix = `durable-${randomUUID()}`;
    const stopping = worker(prefix, 1500);
    await stopping.saw("ready");
    const web = open(prefix);
    const handle = await web.add({ kind: "refresh", installationId: 1, owner: "octo", repo: "app", reason: "push" });
    await stopping.saw("started app");
    const exited = new Promise<number | null>((resolve) => stopping.child.once("exit", (code) => resolve(code)));
    stopping.child.kill("SIGTERM");
    // Another worker is ready, and must not get the job.
    const other = open(prefix);
    const runs: string[] = [];
    other.work(async () => void runs.push("other"), { concurrency: 1 });
    expect(await exited).toBe(0);
    expect(stopping.lines).toContain("finished app");
    expect(await handle.finished()).toBe(`done by ${stopping.child.pid}`);
    expect(runs).toEqual([]);
  });
});
