// A worker process for the durability tests: takes jobs from the Redis queue and holds each for HOLD_MS, saying on
// stdout when it starts and finishes one. SIGTERM closes the queue as the app's server does.
import { createRedisQueue } from "../../src/queue/redis.js";

const [url, prefix] = process.argv.slice(2);
if (!url || !prefix) throw new Error("usage: worker-process.ts REDIS_URL PREFIX");
const holdMs = Number(process.env["HOLD_MS"] ?? 60_000);
const queue = createRedisQueue({ url, prefix, lockMs: 1500, retry: { attempts: 3, backoffMs: 50 } });
queue.work(
  async (job) => {
    const name = job.kind === "refresh" ? job.repo : "sweep";
    process.stdout.write(`started ${name}\n`);
    await new Promise((resolve) => setTimeout(resolve, holdMs));
    process.stdout.write(`finished ${name}\n`);
    return `done by ${process.pid}`;
  },
  { concurrency: 1 },
);
process.once("SIGTERM", () => {
  void queue.close({ graceMs: 10_000 }).then(() => process.exit(0));
});
process.stdout.write("ready\n");
