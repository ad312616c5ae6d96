import { Redis } from "ioredis";
import { createMemoryQueue } from "../queue/memory.js";
import { createRedisQueue } from "../queue/redis.js";
import type { JobQueue } from "../queue/types.js";
import { createRedisCache } from "../store/redis-cache.js";
import { RedisRepositoryBook } from "../store/redis-book.js";
import { createMemoryPinIndex, createRedisPinIndex, type PinIndex } from "../store/pin-index.js";
import { createMemoryCache, type LookupObserver, type SharedCache } from "../store/shared-cache.js";
import { RepositoryBook, type RepositoryBookLike } from "./sweep.js";

/** What a process runs as: `web` takes webhooks and queues jobs, `worker` runs them, `all` (the default) both. */
export type Role = "web" | "worker" | "all";

/** Where the app keeps what its processes share: this process's memory, or Redis for a fleet. */
export interface FleetParts {
  readonly role: Role;
  readonly queue: JobQueue;
  readonly book: RepositoryBookLike;
  readonly cache: SharedCache;
  /** Which repositories follow which tags (registry push events). */
  readonly pins: PinIndex;
  /** Jobs this process runs at once (`DIGESTA_CONCURRENCY`, default 4). */
  readonly concurrency: number;
  /** The connection for everything but BullMQ's own; undefined without Redis. */
  readonly redis?: Redis;
  close(): Promise<void>;
}

export function roleFromEnv(value: string | undefined): Role {
  const role = (value ?? "all").trim().toLowerCase() || "all";
  if (role === "web" || role === "worker" || role === "all") return role;
  throw new Error(`DIGESTA_ROLE must be web, worker or all, not ${JSON.stringify(value)}`);
}

/**
 * From the environment: `REDIS_URL` (fleet mode; without it one process, in memory), `DIGESTA_ROLE`,
 * `DIGESTA_CONCURRENCY`, `DIGESTA_REDIS_PREFIX` (default `digesta`), `DIGESTA_JOB_LOCK_MS` (how soon a dead worker's
 * job runs elsewhere, default 30 s).
 */
export function fleetFromEnv(env: NodeJS.ProcessEnv = process.env, options: { now?: Date; onLookup?: LookupObserver } = {}): FleetParts {
  const now = options.now ?? new Date();
  const onLookup = options.onLookup ? { onLookup: options.onLookup } : {};
  const role = roleFromEnv(env["DIGESTA_ROLE"]);
  const concurrency = positive(env["DIGESTA_CONCURRENCY"]) ?? 4;
  const url = env["REDIS_URL"]?.trim();
  if (!url) {
    if (role !== "all") throw new Error(`DIGESTA_ROLE=${role} needs REDIS_URL: without Redis there is one process, doing both`);
    const queue = createMemoryQueue();
    return {
      role,
      queue,
      book: new RepositoryBook(now),
      cache: createMemoryCache(onLookup),
      pins: createMemoryPinIndex(),
      concurrency,
      close: () => queue.close(),
    };
  }
  const prefix = env["DIGESTA_REDIS_PREFIX"]?.trim() || "digesta";
  const redis = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: false });
  redis.on("error", () => undefined);
  const lockMs = positive(env["DIGESTA_JOB_LOCK_MS"]);
  const queue = createRedisQueue({ url, prefix, ...(lockMs ? { lockMs } : {}) });
  return {
    role,
    queue,
    book: new RedisRepositoryBook(redis, { prefix, startedAt: now }),
    cache: createRedisCache(redis, { prefix, ...onLookup }),
    pins: createRedisPinIndex(redis, { prefix }),
    concurrency,
    redis,
    async close() {
      await queue.close();
      redis.disconnect();
    },
  };
}

export function positive(value: string | undefined): number | undefined {
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : undefined;
}
