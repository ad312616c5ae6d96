import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { JSON_CODEC, kindOf, lifetimeOf, pack, unpack, type Codec, type Lifetime, type LookupObserver, type SharedCache, type Stored } from "./shared-cache.js";

export interface RedisCacheOptions {
  /** Prefix of every key. Default `digesta`. */
  readonly prefix?: string;
  /** How long another process's load may take before a waiter loads for itself. Default 60 s. */
  readonly loadTimeoutMs?: number;
  /**
   * How long a loader's claim on a key lasts unless renewed (it renews at a third of that while it loads). A process
   * that dies mid-load (SIGKILL) stops renewing: after this long another process loads the value instead of waiting
   * for one that never comes. Default 10 s.
   */
  readonly claimMs?: number;
  /** Values larger than this are not stored (they are still returned). Default 4 MiB. */
  readonly maxValueBytes?: number;
  readonly onLookup?: LookupObserver;
}

const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

/**
 * The fleet's cache: each value under a Redis key with its lifetime (`PX`), loaded by one process at a time: the
 * first to take the key's loading claim (`SET NX PX`, renewed while it loads) loads, the others poll for its value,
 * and take the claim over when its holder died. Redis being away never fails a run: the value is then loaded here,
 * as if nothing were cached.
 */
export function createRedisCache(redis: Redis, options: RedisCacheOptions = {}): SharedCache {
  const prefix = `${options.prefix ?? "digesta"}:cache:`;
  const loadTimeoutMs = options.loadTimeoutMs ?? 60_000;
  const claimMs = options.claimMs ?? 10_000;
  const maxValueBytes = options.maxValueBytes ?? 4 * 1024 * 1024;
  const local = new Map<string, Promise<Stored>>();

  const fetchStored = async <T>(key: string, ttlMs: Lifetime<T>, load: () => Promise<T>, codec: Codec<T>): Promise<Stored> => {
    const full = prefix + key;
    const lock = `${full}:loading`;
    const deadline = Date.now() + loadTimeoutMs;
    let pause = 10;
    for (;;) {
      let text: string | null;
      let token: string | undefined;
      try {
        text = await redis.get(full);
        if (text === null) {
          token = randomUUID();
          if ((await redis.set(lock, token, "PX", claimMs, "NX")) !== "OK") token = undefined;
        }
      } catch {
        options.onLookup?.(kindOf(key), false);
        return pack(load, codec);
      }
      if (text !== null) {
        // Found, whether at once or after another process loaded it: this one asked nobody else.
        options.onLookup?.(kindOf(key), true);
        return JSON.parse(text) as Stored;
      }
      if (token) {
        // Another process may have stored the value and let its claim go between this one's look and its claim.
        const stored = await redis.get(full).catch(() => null);
        if (stored !== null) {
          await redis.eval(RELEASE, 1, lock, token).catch(() => undefined);
          options.onLookup?.(kindOf(key), true);
          return JSON.parse(stored) as Stored;
        }
        options.onLookup?.(kindOf(key), false);
        const claim = token;
        const renewal = setInterval(() => void redis.eval(RENEW, 1, lock, claim, claimMs).catch(() => undefined), Math.max(100, Math.floor(claimMs / 3)));
        renewal.unref();
        try {
          let value: T | undefined;
          const stored = await pack(async () => (value = await load()), codec);
          const encoded = JSON.stringify(stored);
          const lifetime = Math.max(1, Math.round(lifetimeOf(ttlMs, stored, value)));
          if (encoded.length <= maxValueBytes) await redis.set(full, encoded, "PX", lifetime).catch(() => undefined);
          return stored;
        } finally {
          clearInterval(renewal);
          await redis.eval(RELEASE, 1, lock, token).catch(() => undefined);
        }
      }
      if (Date.now() > deadline) {
        options.onLookup?.(kindOf(key), false);
        return pack(load, codec);
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(200, pause * 2);
    }
  };

  return {
    kind: "redis",
    async once<T>(key: string, ttlMs: Lifetime<T>, load: () => Promise<T>, codec: Codec<T> = JSON_CODEC as Codec<T>): Promise<T> {
      // Callers in this process share one round of asking Redis.
      let pending = local.get(key);
      if (!pending) {
        pending = fetchStored(key, ttlMs, load, codec).finally(() => local.delete(key));
        local.set(key, pending);
      }
      return unpack(await pending, codec);
    },
    size: 0,
  };
}
