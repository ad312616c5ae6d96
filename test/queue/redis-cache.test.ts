// The fleet's shared cache on a real Redis: one loader per key for the whole fleet, and a loader that dies mid-load
// (SIGKILL: its claim is never released) does not make the others wait for a value that never comes.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisCache } from "../../src/store/redis-cache.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";

describe("the Redis cache's loading claims", () => {
  let redis: TestRedis;
  let connections: Redis[] = [];
  const connect = () => {
    const connection = new Redis(redis.url);
    connections.push(connection);
    return connection;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    connections = [];
    await redis.stop();
  });

  it("loads a value whose claim was left by a dead process once the claim runs out, not after the whole wait", async () => {
    const prefix = `cache-${randomUUID()}`;
    const other = connect();
    // A process took the claim and died: nobody renews or releases it.
    await other.set(`${prefix}:cache:tag:web:1:loading`, "dead-process", "PX", 400);
    const cache = createRedisCache(connect(), { prefix, claimMs: 400, loadTimeoutMs: 120_000 });
    let loads = 0;
    const value = await cache.once("tag:web:1", 60_000, async () => {
      loads++;
      return "sha256:abc";
    });
    expect(value).toBe("sha256:abc");
    expect(loads).toBe(1);
    expect(await other.get(`${prefix}:cache:tag:web:1`)).toContain("sha256:abc");
  });

  it("keeps a slow loader's claim alive, so no other process loads the same value meanwhile", async () => {
    const prefix = `cache-${randomUUID()}`;
    const watcher = connect();
    const claim = `${prefix}:cache:diff:web:loading`;
    const a = createRedisCache(connect(), { prefix, claimMs: 1500 });
    const b = createRedisCache(connect(), { prefix, claimMs: 1500 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const loads: string[] = [];
    const first = a.once("diff:web", 60_000, async () => {
      loads.push("a");
      await gate;
      return "from a";
    });
    // Wait until a holds the claim, then let b ask for the same value.
    for (let deadline = Date.now() + 10_000; (await watcher.get(claim)) === null; ) {
      if (Date.now() > deadline) throw new Error("a never claimed the key");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const second = b.once("diff:web", 60_000, async () => {
      loads.push("b");
      return "from b";
    });
    // The claim is renewed while a loads: seen with its lifetime going back up, three times over.
    let renewals = 0;
    for (let last = Infinity, deadline = Date.now() + 20_000; renewals < 3; ) {
      if (Date.now() > deadline) throw new Error("the claim was not renewed");
      const left = await watcher.pttl(claim);
      expect(left, "the claim ran out while its loader was alive").toBeGreaterThan(0);
      if (left > last) renewals++;
      last = left;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    release();
    expect(await first).toBe("from a");
    expect(await second).toBe("from a");
    expect(loads).toEqual(["a"]);
    expect(await watcher.exists(claim)).toBe(0);
  });

  it("does not load again a value another process stored and let go of between this one's look and its claim", async () => {
    const prefix = `cache-${randomUUID()}`;
    const key = "tag:batch:web:1";
    const a = createRedisCache(connect(), { prefix });
    // b looks (nothing yet), then a loads, stores and lets its claim go, and only then does b claim the key.
    let looked!: () => void;
    const bLooked = new Promise<void>((resolve) => (looked = resolve));
    let aDone!: () => void;
    const aStored = new Promise<void>((resolve) => (aDone = resolve));
    const slow = connect();
    const wrapped = new Proxy(slow, {
      get(target, property, receiver) {
        if (property === "set") {
          return async (...args: unknown[]) => {
            if (String(args[0]).endsWith(":loading")) {
              looked();
              await aStored;
            }
            return (target.set as (...a: unknown[]) => Promise<unknown>)(...args);
          };
        }
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const b = createRedisCache(wrapped, { prefix });
    const loads: string[] = [];
    const second = b.once(key, 60_000, async () => {
      loads.push("b");
      return "from b";
    });
    await bLooked;
    expect(await a.once(key, 60_000, async () => {
      loads.push("a");
      return "from a";
    })).toBe("from a");
    aDone();
    expect(await second).toBe("from a");
    expect(loads).toEqual(["a"]);
  });
});
