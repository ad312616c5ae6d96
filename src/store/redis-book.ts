import type { Redis } from "ioredis";
import { DEFAULT_CONFIG } from "../config/schema.js";
import { lastScheduledTime } from "../policy/schedule.js";
import { isRepositoryDue, RepositoryBook, type KnownRepository, type RepositoryBookLike, type RepositoryEntry } from "../app/sweep.js";

interface StoredRepository extends RepositoryEntry {
  readonly schedule: string;
  /** ms since the epoch. */
  readonly lastRun: number;
}

/** How long a claim on one due time of one repository is kept: longer than any schedule's shortest interval. */
const CLAIM_MS = 2 * 24 * 3_600_000;

/**
 * The fleet's book of installed repositories, in one Redis hash (repository → installation, schedule, last run),
 * so every process sees the same runs. Each due time of each repository is claimed (`SET NX`) by the one sweep
 * that queues it: however many processes look, a repository is queued once per due time.
 */
export class RedisRepositoryBook implements RepositoryBookLike {
  readonly #redis: Redis;
  readonly #hash: string;
  readonly #listedAt: string;
  readonly #claims: string;
  readonly #startedAt: Date;

  constructor(redis: Redis, options: { prefix?: string; startedAt: Date }) {
    this.#redis = redis;
    const prefix = options.prefix ?? "digesta";
    this.#hash = `${prefix}:repositories`;
    this.#listedAt = `${prefix}:repositories:listed-at`;
    this.#claims = `${prefix}:due:`;
    this.#startedAt = options.startedAt;
  }

  async add(entry: RepositoryEntry): Promise<void> {
    const key = RepositoryBook.key(entry.owner, entry.repo);
    const known = await this.#get(key);
    await this.#redis.hset(this.#hash, key, JSON.stringify(this.#merge(entry, known)));
  }

  async remove(owner: string, repo: string): Promise<void> {
    await this.#redis.hdel(this.#hash, RepositoryBook.key(owner, repo));
  }

  async removeInstallation(installationId: number): Promise<void> {
    const gone = (await this.#entries()).filter(([, e]) => e.installationId === installationId).map(([key]) => key);
    if (gone.length > 0) await this.#redis.hdel(this.#hash, ...gone);
  }

  async ran(owner: string, repo: string, startedAt: Date, schedule: string | undefined): Promise<void> {
    const key = RepositoryBook.key(owner, repo);
    const known = await this.#get(key);
    if (!known) return;
    const next: StoredRepository = {
      ...known,
      lastRun: Math.max(known.lastRun, startedAt.getTime()),
      ...(schedule ? { schedule } : {}),
    };
    await this.#redis.hset(this.#hash, key, JSON.stringify(next));
  }

  async all(): Promise<KnownRepository[]> {
    return (await this.#entries()).map(([, e]) => known(e));
  }

  async due(now: Date): Promise<KnownRepository[]> {
    const due = (await this.all()).filter((entry) => isRepositoryDue(entry, now));
    if (due.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const entry of due) {
      pipeline.set(`${this.#claims}${RepositoryBook.key(entry.owner, entry.repo)}@${dueTime(entry, now)}`, "1", "PX", CLAIM_MS, "NX");
    }
    const answers = (await pipeline.exec()) ?? [];
    return due.filter((_, i) => answers[i]?.[1] === "OK");
  }

  async isStale(now: Date, maxAgeMs: number): Promise<boolean> {
    const listed = Number(await this.#redis.get(this.#listedAt));
    return !Number.isFinite(listed) || listed === 0 || now.getTime() - listed > maxAgeMs;
  }

  async replaceAll(entries: readonly RepositoryEntry[], now: Date): Promise<void> {
    const old = new Map(await this.#entries());
    const next = new Map<string, string>();
    for (const entry of entries) {
      const key = RepositoryBook.key(entry.owner, entry.repo);
      next.set(key, JSON.stringify(this.#merge(entry, old.get(key))));
    }
    const transaction = this.#redis.multi().del(this.#hash);
    if (next.size > 0) transaction.hset(this.#hash, Object.fromEntries(next));
    await transaction.set(this.#listedAt, String(now.getTime())).exec();
  }

  #merge(entry: RepositoryEntry, known: StoredRepository | undefined): StoredRepository {
    return {
      installationId: entry.installationId,
      owner: entry.owner,
      repo: entry.repo,
      ...(entry.defaultBranch ? { defaultBranch: entry.defaultBranch } : {}),
      schedule: known?.schedule ?? DEFAULT_CONFIG.schedule,
      lastRun: known?.lastRun ?? this.#startedAt.getTime(),
    };
  }

  async #get(key: string): Promise<StoredRepository | undefined> {
    const text = await this.#redis.hget(this.#hash, key);
    return text ? (JSON.parse(text) as StoredRepository) : undefined;
  }

  async #entries(): Promise<[string, StoredRepository][]> {
    const all = await this.#redis.hgetall(this.#hash);
    return Object.entries(all).map(([key, text]) => [key, JSON.parse(text) as StoredRepository]);
  }
}

function known(entry: StoredRepository): KnownRepository {
  return { ...entry, lastRun: new Date(entry.lastRun) };
}

/** The due time a run now answers: the schedule's last firing (the default schedule's, where the repository's is unreadable). */
function dueTime(entry: KnownRepository, now: Date): number {
  const seed = `${entry.owner}/${entry.repo}`;
  try {
    return lastScheduledTime(entry.schedule, seed, now).getTime();
  } catch {
    return lastScheduledTime(DEFAULT_CONFIG.schedule, seed, now).getTime();
  }
}
