import { normaliseRegistry } from "../reference/name.js";
import { domainProblem, pathProblem } from "../reference/grammar.js";
import type { Digest, ImageName } from "../reference/types.js";
import { RegistryError } from "./errors.js";
import type { RegistryClient } from "./client.js";

/** Where one registry is read from instead: a host, and a repository prefix there (`mirror.example.com/dockerhub`). */
export interface Mirror {
  readonly host: string;
  readonly prefix: string;
}

/** Registry (as image names write it: `docker.io`, `ghcr.io`) → its mirror. */
export type Mirrors = ReadonlyMap<string, Mirror>;

/** Why a mirror setting cannot be used; names the entry and says what to write. */
export class MirrorConfigError extends Error {}

/**
 * `docker.io=mirror.example.com,ghcr.io=mirror.example.com/ghcr`: each registry read through the mirror named, the
 * repository path kept (after the mirror's prefix, if it has one). `source` names the setting in messages.
 */
export function parseMirrors(entries: readonly string[], source: string): Map<string, Mirror> {
  const mirrors = new Map<string, Mirror>();
  for (const raw of entries.flatMap((entry) => entry.split(","))) {
    const entry = raw.trim();
    if (!entry) continue;
    const equals = entry.indexOf("=");
    if (equals <= 0 || equals === entry.length - 1) {
      throw new MirrorConfigError(`${source}: "${entry.slice(0, 100)}" is not REGISTRY=MIRROR (for example docker.io=mirror.example.com)`);
    }
    const registry = normaliseRegistry(entry.slice(0, equals).trim().toLowerCase());
    const target = entry.slice(equals + 1).trim().replace(/^https?:\/\//i, "").replace(/\/+$/, "");
    const slash = target.indexOf("/");
    const host = (slash < 0 ? target : target.slice(0, slash)).toLowerCase();
    const prefix = slash < 0 ? "" : target.slice(slash + 1);
    const problem = domainProblem(registry) ?? domainProblem(host) ?? (prefix ? pathProblem(prefix) : undefined);
    if (problem) throw new MirrorConfigError(`${source}: "${entry.slice(0, 100)}": ${problem}`);
    if (host === registry && !prefix) throw new MirrorConfigError(`${source}: "${entry}" names a registry as its own mirror`);
    if (mirrors.has(registry)) throw new MirrorConfigError(`${source}: ${registry} has two mirrors; give one`);
    mirrors.set(registry, { host, prefix });
  }
  return mirrors;
}

/**
 * A registry client that reads each mirrored registry's images from its mirror: the same repository (under the
 * mirror's prefix), the mirror's own credentials (looked up under the mirror's host, never the canonical registry's),
 * the mirror's digests, verified against the bytes the mirror sent, as for any registry. Callers keep the canonical
 * name: files are written with it. A mirror that fails fails the read, naming the mirror; there is no fallback to the
 * canonical registry (see docs/networks.md).
 */
export function withMirrors(client: RegistryClient, mirrors: Mirrors): RegistryClient {
  if (mirrors.size === 0) return client;
  const through = (name: ImageName): { name: ImageName; mirror?: Mirror } => {
    const mirror = mirrors.get(name.registry);
    if (!mirror) return { name };
    return { name: { ...name, registry: mirror.host, repository: mirror.prefix ? `${mirror.prefix}/${name.repository}` : name.repository }, mirror };
  };
  const call = async <T>(name: ImageName, operation: (at: ImageName) => Promise<T>): Promise<T> => {
    const { name: at, mirror } = through(name);
    if (!mirror) return operation(at);
    try {
      return await operation(at);
    } catch (error) {
      if (error instanceof RegistryError) throw mirrorError(error, name.registry, mirror);
      throw error;
    }
  };
  return {
    headManifest: (name, reference) => call(name, (at) => client.headManifest(at, reference)),
    getManifest: (name, reference) => call(name, (at) => client.getManifest(at, reference)),
    getBlob: (name, digest: Digest, maxBytes?: number) => call(name, (at) => client.getBlob(at, digest, maxBytes)),
    openBlob: (name, digest) => call(name, (at) => client.openBlob(at, digest)),
    referrers: (name, digest, artifactType?: string) => call(name, (at) => client.referrers(at, digest, artifactType)),
    tagHistory: (name, tag) => call(name, (at) => client.tagHistory(at, tag)),
    listTags: (name, options) => call(name, (at) => client.listTags(at, options)),
    stats: () => client.stats(),
  };
}

/** The mirror's error, saying which registry it stood in for; same code and status, so retries and reports treat it alike. */
function mirrorError(error: RegistryError, registry: string, mirror: Mirror): RegistryError {
  return new RegistryError(error.code, `${error.message} (${mirror.host} is the mirror of ${registry}; digesta does not fall back to ${registry})`, error.status, {
    ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    ...(error.transient ? { transient: true } : {}),
  });
}
