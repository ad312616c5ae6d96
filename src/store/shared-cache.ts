/**
 * Values shared by every run of a process, or of a whole fleet on Redis, each with a bounded lifetime: tag
 * resolutions within a batch, and what never changes for a digest (manifests, configs, build times, package diffs).
 */
export interface SharedCache {
  readonly kind: "memory" | "redis";
  /**
   * The value under `key`, computed by `load` once for everyone asking (in every process on Redis): while one
   * caller loads, the others wait for its value. A load that fails is not stored, unless `keepError` says so: then
   * the others get the same failure (rebuilt by `revive`) instead of asking again.
   */
  once<T>(key: string, ttlMs: Lifetime<T>, load: () => Promise<T>, codec?: Codec<T>): Promise<T>;
  /** Entries held in this process (0 on Redis, where Redis holds them). */
  readonly size: number;
}

/** How long a value is kept: fixed, or by what it is. A shared failure is kept as long as a minute. */
export type Lifetime<T> = number | ((value: T) => number);

const FAILURE_MS = 60_000;

/** The lifetime of what `pack` stored. */
export function lifetimeOf<T>(ttl: Lifetime<T>, stored: Stored, value: T | undefined): number {
  if (typeof ttl === "number") return "e" in stored ? Math.min(ttl, FAILURE_MS) : ttl;
  return "e" in stored ? FAILURE_MS : ttl(value as T);
}

/** How a value travels through the cache as text; JSON by default. */
export interface Codec<T> {
  encode(value: T): string;
  decode(text: string): T;
  /** An error worth sharing as it is (a tag not found): its text, or undefined to keep it to this caller. */
  keepError?(error: unknown): string | undefined;
  revive?(text: string): Error;
}

export const JSON_CODEC: Codec<never> = { encode: (value) => JSON.stringify(value), decode: (text) => JSON.parse(text) as never };

/** What the cache stores: a value, or a shared failure. */
export type Stored = { readonly v: string } | { readonly e: string };

/** Told of each lookup: the key's kind (its first part: `tag`, `manifest`, `diff`…) and whether it was a hit. */
export type LookupObserver = (kind: string, hit: boolean) => void;

export function kindOf(key: string): string {
  return key.slice(0, Math.max(0, key.indexOf(":"))) || "other";
}

export interface MemoryCacheOptions {
  /** Rough bound on the text held, in bytes. Default 64 MiB. */
  readonly maxBytes?: number;
  readonly now?: () => number;
  readonly onLookup?: LookupObserver;
}

/** The single-process cache: an LRU bounded by the size of what it holds, each entry with its lifetime. */
export function createMemoryCache(options: MemoryCacheOptions = {}): SharedCache {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { stored: Stored; bytes: number; expires: number }>();
  const loading = new Map<string, Promise<Stored>>();
  let bytes = 0;

  const drop = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    bytes -= entry.bytes;
  };

  const store = (key: string, stored: Stored, ttlMs: number) => {
    const size = 2 * ("v" in stored ? stored.v.length : stored.e.length) + 2 * key.length + 64;
    if (size > maxBytes / 8) return;
    drop(key);
    entries.set(key, { stored, bytes: size, expires: now() + ttlMs });
    bytes += size;
    for (const oldest of entries.keys()) {
      if (bytes <= maxBytes) break;
      drop(oldest);
    }
  };

  return {
    kind: "memory",
    async once<T>(key: string, ttlMs: Lifetime<T>, load: () => Promise<T>, codec: Codec<T> = JSON_CODEC as Codec<T>): Promise<T> {
      const held = entries.get(key);
      if (held && held.expires > now()) {
        entries.delete(key);
        entries.set(key, held);
        options.onLookup?.(kindOf(key), true);
        return unpack(held.stored, codec);
      }
      if (held) drop(key);
      let pending = loading.get(key);
      options.onLookup?.(kindOf(key), pending !== undefined);
      if (!pending) {
        let value: T | undefined;
        pending = pack(async () => (value = await load()), codec).finally(() => loading.delete(key));
        loading.set(key, pending);
        void pending.then((stored) => store(key, stored, lifetimeOf(ttlMs, stored, value)), () => undefined);
      }
      return unpack(await pending, codec);
    },
    get size() {
      return entries.size;
    },
  };
}

/** Runs `load` and packs its value, or the failure when the codec keeps it; other failures reject. */
export async function pack<T>(load: () => Promise<T>, codec: Codec<T>): Promise<Stored> {
  try {
    return { v: codec.encode(await load()) };
  } catch (error) {
    const kept = codec.keepError?.(error);
    if (kept === undefined) throw error;
    return { e: kept };
  }
}

export function unpack<T>(stored: Stored, codec: Codec<T>): T {
  if ("e" in stored) throw codec.revive ? codec.revive(stored.e) : new Error(stored.e);
  return codec.decode(stored.v);
}
