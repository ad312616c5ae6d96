import type { Redis } from "ioredis";
import type { RepositoryEntry } from "../app/sweep.js";

/**
 * Which repositories follow which tags (`registry/repository:tag`), from each run's scan: a registry's push of a tag
 * refreshes exactly the repositories that pin it. In this process's memory, or in Redis for a fleet.
 */
export interface PinIndex {
  /** What one repository follows now, replacing what it followed before (empty: nothing). */
  record(repository: RepositoryEntry, tags: readonly string[]): Promise<void>;
  /** The repositories following a tag. */
  following(tag: string): Promise<RepositoryEntry[]>;
  forget(owner: string, repo: string): Promise<void>;
}

const keyOf = (owner: string, repo: string) => `${owner}/${repo}`.toLowerCase();
const normal = (tag: string) => {
  // Registry host and repository are case-insensitive here (hosts are; repositories are lower case); the tag is not.
  const colon = tag.lastIndexOf(":");
  return `${tag.slice(0, colon).toLowerCase()}${tag.slice(colon)}`;
};

export function createMemoryPinIndex(): PinIndex {
  const byTag = new Map<string, Map<string, RepositoryEntry>>();
  const byRepository = new Map<string, Set<string>>();
  const forget = (key: string) => {
    for (const tag of byRepository.get(key) ?? []) {
      const followers = byTag.get(tag);
      followers?.delete(key);
      if (followers?.size === 0) byTag.delete(tag);
    }
    byRepository.delete(key);
  };
  return {
    async record(repository, tags) {
      const key = keyOf(repository.owner, repository.repo);
      forget(key);
      if (tags.length === 0) return;
      const normalised = new Set(tags.map(normal));
      byRepository.set(key, normalised);
      for (const tag of normalised) {
        let followers = byTag.get(tag);
        if (!followers) byTag.set(tag, (followers = new Map()));
        followers.set(key, repository);
      }
    },
    async following(tag) {
      return [...(byTag.get(normal(tag))?.values() ?? [])];
    },
    async forget(owner, repo) {
      forget(keyOf(owner, repo));
    },
  };
}

/**
 * The fleet's index: a set of repositories per tag, a set of tags per repository, and each repository's
 * installation in a hash, changed together in one transaction.
 */
export function createRedisPinIndex(redis: Redis, options: { prefix?: string } = {}): PinIndex {
  const prefix = `${options.prefix ?? "digesta"}:pins`;
  const tagSet = (tag: string) => `${prefix}:tag:${tag}`;
  const repoSet = (key: string) => `${prefix}:repository:${key}`;
  const entries = `${prefix}:repositories`;
  const forget = async (key: string) => {
    const old = await redis.smembers(repoSet(key));
    const transaction = redis.multi();
    for (const tag of old) transaction.srem(tagSet(tag), key);
    await transaction.del(repoSet(key)).hdel(entries, key).exec();
  };
  return {
    async record(repository, tags) {
      const key = keyOf(repository.owner, repository.repo);
      const old = new Set(await redis.smembers(repoSet(key)));
      const next = new Set(tags.map(normal));
      const transaction = redis.multi();
      for (const tag of old) if (!next.has(tag)) transaction.srem(tagSet(tag), key);
      for (const tag of next) transaction.sadd(tagSet(tag), key);
      transaction.del(repoSet(key));
      if (next.size > 0) {
        transaction.sadd(repoSet(key), ...next);
        transaction.hset(entries, key, JSON.stringify(repository));
      } else {
        transaction.hdel(entries, key);
      }
      await transaction.exec();
    },
    async following(tag) {
      const keys = await redis.smembers(tagSet(normal(tag)));
      if (keys.length === 0) return [];
      const found = await redis.hmget(entries, ...keys);
      return found.flatMap((text) => (text ? [JSON.parse(text) as RepositoryEntry] : []));
    },
    forget: (owner, repo) => forget(keyOf(owner, repo)),
  };
}
