import { createHash } from "node:crypto";
import { Transform, pipeline } from "node:stream";
import pLimit, { type LimitFunction } from "p-limit";
import type { Logger } from "pino";
import { isDigest } from "../reference/digest.js";
import type { Digest, ImageName } from "../reference/types.js";
import { Authenticator, type Challenge, parseWwwAuthenticate, pickChallenge, pullScope } from "./auth.js";
import { type CredentialSource, dockerConfigCredentials } from "./credentials.js";
import { SchemePolicy, assertValidName, assertValidReference, insecureRegistriesFromEnv, registryEndpoint } from "./endpoint.js";
import { RegistryError } from "./errors.js";
import { MAX_HISTORY_BYTES, parseTagHistory } from "./history.js";
import {
  MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  bareMediaType,
  isSchema1,
  manifestMediaType,
  parseIndex,
  parseJsonObject,
  sha256Digest,
} from "./manifest.js";
import { failureFrom } from "./response.js";
import { type BackoffOptions, type Exchange, type RegistryStats, type RequestKind, Transport } from "./transport.js";
import { type BlobStream, type Descriptor, type FetchedManifest, MediaType, type Registry, type TagHistoryEntry } from "./types.js";

export type { RegistryStats, RequestKind, BackoffOptions };

export interface RegistryClientOptions {
  /** Where credentials come from; default: the Docker config (`$DOCKER_CONFIG` or `~/.docker`) and its helpers. */
  readonly credentials?: CredentialSource;
  /** Hosts (with or without port) allowed over plain HTTP besides loopback; `DIGESTA_INSECURE_REGISTRIES` adds more. */
  readonly insecureRegistries?: readonly string[];
  /** Per request: until the headers arrive and the body is read; for streamed blobs, the longest pause. Default 30 s. */
  readonly timeoutMs?: number;
  /** Retries after a 429, a 5xx or a network error. Default 3. */
  readonly retries?: number;
  /** Requests in flight to one registry at once. Default 8. */
  readonly maxConcurrentPerRegistry?: number;
  /** Debug lines only; never given credentials or tokens. */
  readonly logger?: Logger;
  /** Called with each host (`host[:port]`) before the first request to it; may throw RegistryError FORBIDDEN_HOST. */
  readonly hostPolicy?: (host: string) => Promise<void>;
  /** Default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** Retry delays; tests shrink them. */
  readonly backoff?: BackoffOptions;
  /** Clock for token expiry, in ms; tests move it. Default Date.now. */
  readonly now?: () => number;
  /** Environment for `DIGESTA_INSECURE_REGISTRIES` and the default credential source. Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface RegistryClient extends Registry {
  /** Every tag of a repository, in the registry's order, following its `Link` pagination (`pageSize` tags asked per page; default 1000). */
  listTags(name: ImageName, options?: { readonly pageSize?: number }): Promise<string[]>;
  /** Requests sent so far, by kind. */
  stats(): RegistryStats;
}

/** Biggest blob `getBlob` reads when the caller sets no limit. */
export const DEFAULT_MAX_BLOB_BYTES = 16 * 1024 * 1024;
const FAILED_PING_MEMORY_MS = 60_000;
/** Tags asked for per page of a tags list; registries may send fewer, and say where the next page is. */
const TAGS_PAGE_SIZE = 1000;
/** A repository with more pages than this is not listed to its end: a registry that links pages in a loop stops here. */
const MAX_TAG_PAGES = 1000;
const MAX_TAGS_PAGE_BYTES = 4 * 1024 * 1024;
const HISTORY_ABSENT = new Set([400, 404, 405]);
const HEAD_UNSUPPORTED = new Set([404, 405, 501]);
const REFERRERS_UNSUPPORTED = new Set([404, 405, 501]);
const KNOWN_MANIFEST_TYPES = new Set<string>([
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
]);

interface SessionDeps {
  readonly transport: Transport;
  readonly scheme: SchemePolicy;
  readonly credentials: CredentialSource;
  readonly now: () => number;
  readonly maxConcurrent: number;
  readonly logger?: Logger;
}

interface SessionRequest {
  readonly method: "GET" | "HEAD";
  /** Path below the registry origin, already encoded. */
  readonly path: string;
  readonly accept: string;
  readonly kind: RequestKind;
  readonly what: string;
  readonly scope: string;
}

interface Connection {
  readonly origin: URL;
  readonly auth: Authenticator;
}

/** One registry: its scheme and challenge (found by one ping per run), its authenticator and its concurrency limit. */
class RegistrySession {
  private connection: Promise<Connection> | undefined;
  private failedAt: number | undefined;
  private readonly limit: LimitFunction;

  constructor(
    readonly registry: string,
    private readonly deps: SessionDeps,
  ) {
    this.limit = pLimit(deps.maxConcurrent);
  }

  async request(request: SessionRequest): Promise<Exchange> {
    const { origin, auth } = await this.connect();
    const url = new URL(request.path, origin);
    const send = (authorization: string | undefined): Promise<Exchange> =>
      this.deps.transport.send({
        method: request.method,
        url,
        headers: { accept: request.accept, ...(authorization ? { authorization } : {}) },
        kind: request.kind,
        what: request.what,
        limit: this.limit,
      });
    const first = await auth.authorization(request.scope);
    const exchange = await send(first.header);
    if (exchange.status !== 401) return exchange;

    // A 401: the token may have expired early, or the registry may want a scope or challenge the ping did not show.
    const offered = pickChallenge(parseWwwAuthenticate(exchange.headers.get("www-authenticate") ?? ""));
    const changed = offered !== undefined && auth.updateChallenge(offered);
    if (!first.cached && !changed && first.header !== undefined) return exchange;
    let second;
    try {
      second = await auth.authorization(request.scope, { refresh: true });
    } catch (error) {
      exchange.discard();
      throw error;
    }
    if (second.header === undefined || (second.header === first.header && !first.cached)) return exchange;
    exchange.discard();
    return send(second.header);
  }

  private connect(): Promise<Connection> {
    const now = this.deps.now();
    if (this.failedAt !== undefined && now - this.failedAt > FAILED_PING_MEMORY_MS) {
      this.connection = undefined;
      this.failedAt = undefined;
    }
    if (!this.connection) {
      const attempt = this.ping();
      attempt.catch(() => {
        this.failedAt = this.deps.now();
      });
      this.connection = attempt;
    }
    return this.connection;
  }

  /**
   * `GET /v2/` once: HTTPS, or for hosts allowed plain HTTP (loopback, insecure registries) HTTPS first and
   * HTTP when HTTPS cannot connect, as Docker does. A failed ping (after its retries) is remembered for a
   * minute, so thousands of pins on a registry that is down fail fast instead of each retrying.
   */
  private async ping(): Promise<Connection> {
    const host = registryEndpoint(this.registry);
    const origins = [new URL(`https://${host}`)];
    if (this.deps.scheme.allowsHttp(host)) origins.push(new URL(`http://${host}`));
    for (const [index, origin] of origins.entries()) {
      const last = index === origins.length - 1;
      let exchange: Exchange;
      try {
        exchange = await this.deps.transport.send({
          method: "GET",
          url: new URL("/v2/", origin),
          headers: {},
          kind: "ping",
          what: this.registry,
          limit: this.limit,
          probe: !last,
        });
      } catch (error) {
        if (!last && error instanceof RegistryError && (error.code === "NETWORK" || error.code === "TIMEOUT")) {
          this.deps.logger?.debug({ registry: this.registry }, "HTTPS ping failed; trying plain HTTP");
          continue;
        }
        throw error;
      }
      let challenge: Challenge | undefined;
      if (exchange.status === 401) {
        challenge = pickChallenge(parseWwwAuthenticate(exchange.headers.get("www-authenticate") ?? ""));
      } else if (exchange.status >= 500 || exchange.status === 429) {
        throw await failureFrom(exchange, { what: this.registry, action: "registry ping", registry: this.registry });
      }
      exchange.discard();
      this.deps.logger?.debug({ registry: this.registry, scheme: origin.protocol, challenge: challenge?.scheme }, "pinged registry");
      return { origin, auth: new Authenticator(this.registry, origin, challenge, this.deps) };
    }
    throw new RegistryError("NETWORK", `${this.registry}: cannot reach the registry`);
  }
}

/** The OCI distribution client digesta uses: see RegistryClientOptions for its behaviour. */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const env = options.env ?? process.env;
  const logger = options.logger;
  const scheme = new SchemePolicy([...(options.insecureRegistries ?? []), ...insecureRegistriesFromEnv(env)]);
  const transport = new Transport({
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    timeoutMs: options.timeoutMs ?? 30_000,
    retries: options.retries ?? 3,
    backoff: {
      baseMs: options.backoff?.baseMs ?? 500,
      maxMs: options.backoff?.maxMs ?? 10_000,
      retryAfterCapMs: options.backoff?.retryAfterCapMs ?? 60_000,
    },
    scheme,
    now: options.now ?? Date.now,
    ...(options.hostPolicy ? { hostPolicy: options.hostPolicy } : {}),
    ...(logger ? { logger } : {}),
  });
  const deps: SessionDeps = {
    transport,
    scheme,
    credentials: options.credentials ?? dockerConfigCredentials({ env, ...(logger ? { logger } : {}) }),
    now: options.now ?? Date.now,
    maxConcurrent: options.maxConcurrentPerRegistry ?? 8,
    ...(logger ? { logger } : {}),
  };
  const sessions = new Map<string, RegistrySession>();
  const session = (name: ImageName): RegistrySession => {
    let found = sessions.get(name.registry);
    if (!found) {
      found = new RegistrySession(name.registry, deps);
      sessions.set(name.registry, found);
    }
    return found;
  };

  /** A manifest request for a tag or digest, both checked before they go into the URL. */
  async function manifestExchange(method: "GET" | "HEAD", name: ImageName, reference: string): Promise<{ exchange: Exchange; what: string }> {
    assertValidName(name);
    assertValidReference(name, reference);
    const what = describe(name, reference);
    const exchange = await session(name).request({
      method,
      path: `/v2/${name.repository}/manifests/${reference}`,
      accept: MANIFEST_ACCEPT,
      kind: "manifest",
      what,
      scope: pullScope(name.repository),
    });
    return { exchange, what };
  }

  async function getManifest(name: ImageName, reference: string): Promise<FetchedManifest> {
    const { exchange, what } = await manifestExchange("GET", name, reference);
    if (exchange.status !== 200) {
      throw await failureFrom(exchange, { what, action: "manifest request", registry: name.registry, ...notFoundHint(exchange, reference) });
    }
    const bytes = await exchange.bytes(MAX_MANIFEST_BYTES);
    const digest = sha256Digest(bytes);
    if (isDigest(reference) && digest !== reference) {
      throw new RegistryError("DIGEST_MISMATCH", `${what}: the registry sent a manifest whose content hashes to ${digest}; refusing it`);
    }
    const json = parseJsonObject(bytes, `${what}: manifest`);
    const mediaType = manifestMediaType(json, bareMediaType(exchange.headers.get("content-type")));
    if (isSchema1(mediaType, json)) {
      throw new RegistryError("BAD_RESPONSE", `${what}: the registry only has a Docker schema 1 manifest, which digesta does not support; push the image again with a current builder`);
    }
    const claimed = exchange.headers.get("docker-content-digest");
    if (claimed && claimed !== digest) logger?.debug({ what, claimed, digest }, "Docker-Content-Digest differs from the body's hash; using the hash");
    return { digest, mediaType, bytes, json };
  }

  async function headManifest(name: ImageName, reference: string): Promise<Descriptor> {
    const { exchange, what } = await manifestExchange("HEAD", name, reference);
    if (exchange.status === 200) {
      exchange.discard();
      const digest = exchange.headers.get("docker-content-digest") ?? "";
      const mediaType = bareMediaType(exchange.headers.get("content-type"));
      const size = Number(exchange.headers.get("content-length") ?? "");
      if (isDigest(reference) && isDigest(digest) && digest !== reference) {
        throw new RegistryError("DIGEST_MISMATCH", `${what}: the registry says this digest is ${digest}; refusing the answer`);
      }
      if (isDigest(digest) && mediaType && KNOWN_MANIFEST_TYPES.has(mediaType) && Number.isSafeInteger(size) && size > 0) {
        return { mediaType, digest, size };
      }
      logger?.debug({ what }, "HEAD gave no usable digest, media type or size; reading the manifest");
    } else if (HEAD_UNSUPPORTED.has(exchange.status)) {
      // A HEAD answer has no body to explain a 404, and some registries refuse HEAD: the GET says why.
      exchange.discard();
    } else {
      throw await failureFrom(exchange, { what, action: "manifest request", registry: name.registry });
    }
    const manifest = await getManifest(name, reference);
    return { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.byteLength };
  }

  async function blobExchange(name: ImageName, digest: Digest): Promise<Exchange> {
    assertValidName(name);
    if (!isDigest(digest)) throw new RegistryError("INVALID_REFERENCE", `refusing to fetch blob ${JSON.stringify(String(digest).slice(0, 80))}: not a sha256 digest`);
    const what = describe(name, digest);
    const exchange = await session(name).request({
      method: "GET",
      path: `/v2/${name.repository}/blobs/${digest}`,
      accept: "*/*",
      kind: "blob",
      what,
      scope: pullScope(name.repository),
    });
    if (exchange.status !== 200) {
      throw await failureFrom(exchange, { what, action: "blob request", registry: name.registry });
    }
    return exchange;
  }

  async function getBlob(name: ImageName, digest: Digest, maxBytes = DEFAULT_MAX_BLOB_BYTES): Promise<Uint8Array> {
    const exchange = await blobExchange(name, digest);
    const bytes = await exchange.bytes(maxBytes);
    const actual = sha256Digest(bytes);
    if (actual !== digest) {
      throw new RegistryError("DIGEST_MISMATCH", `${describe(name, digest)}: the blob's content hashes to ${actual}; refusing it`);
    }
    return bytes;
  }

  async function openBlob(name: ImageName, digest: Digest): Promise<BlobStream> {
    const exchange = await blobExchange(name, digest);
    const declared = Number(exchange.headers.get("content-length") ?? "");
    const { stream, abort } = exchange.stream();
    const hash = createHash("sha256");
    const what = describe(name, digest);
    // Verified as it streams: a body that does not hash to the digest ends in an error instead of `end`.
    const verified = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
      flush(callback) {
        const actual = `sha256:${hash.digest("hex")}`;
        callback(actual === digest ? null : new RegistryError("DIGEST_MISMATCH", `${what}: the blob's content hashes to ${actual}; refusing it`));
      },
    });
    pipeline(stream, verified, () => {});
    return {
      stream: verified,
      ...(Number.isSafeInteger(declared) && declared >= 0 && exchange.headers.has("content-length") ? { size: declared } : {}),
      abort() {
        verified.destroy();
        abort();
      },
    };
  }

  async function referrers(name: ImageName, digest: Digest, artifactType?: string): Promise<Descriptor[]> {
    assertValidName(name);
    if (!isDigest(digest)) throw new RegistryError("INVALID_REFERENCE", `refusing to list referrers of ${JSON.stringify(String(digest).slice(0, 80))}: not a sha256 digest`);
    const what = describe(name, digest);
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : "";
    const exchange = await session(name).request({
      method: "GET",
      path: `/v2/${name.repository}/referrers/${digest}${query}`,
      accept: MediaType.OciIndex,
      kind: "referrers",
      what,
      scope: pullScope(name.repository),
    });
    let descriptors: Descriptor[];
    if (exchange.status === 200) {
      const json = parseJsonObject(await exchange.bytes(MAX_MANIFEST_BYTES), `${what}: referrers`);
      descriptors = parseIndex(json, `${what}: referrers`);
    } else if (REFERRERS_UNSUPPORTED.has(exchange.status)) {
      exchange.discard();
      // The OCI 1.1 fallback: an index tagged sha256-<hex> lists the referrers.
      const tag = `sha256-${digest.slice("sha256:".length)}`;
      let index: FetchedManifest;
      try {
        index = await getManifest(name, tag);
      } catch (error) {
        if (error instanceof RegistryError && error.code === "NOT_FOUND") return [];
        throw error;
      }
      descriptors = parseIndex(index.json, `${describe(name, tag)}: referrers tag`);
    } else {
      throw await failureFrom(exchange, { what, action: "referrers request", registry: name.registry });
    }
    return artifactType ? descriptors.filter((d) => d.artifactType === artifactType) : descriptors;
  }

  async function tagHistory(name: ImageName, tag: string): Promise<TagHistoryEntry[]> {
    assertValidName(name);
    assertValidReference(name, tag);
    if (isDigest(tag)) throw new RegistryError("INVALID_REFERENCE", `${describe(name, tag)}: tag history needs a tag, not a digest`);
    const what = describe(name, tag);
    const exchange = await session(name).request({
      method: "GET",
      path: `/v2/${name.repository}/_chainguard/history/${tag}`,
      accept: "application/json",
      kind: "history",
      what,
      scope: pullScope(name.repository),
    });
    if (HISTORY_ABSENT.has(exchange.status)) {
      exchange.discard();
      throw new RegistryError(
        "NO_TAG_HISTORY",
        `registry ${name.registry} keeps no tag history for ${name.repository}:${tag} (HTTP ${exchange.status}); only Chainguard's registry offers it`,
        exchange.status,
      );
    }
    if (exchange.status !== 200) {
      throw await failureFrom(exchange, { what, action: "tag history request", registry: name.registry });
    }
    const json = parseJsonObject(await exchange.bytes(MAX_HISTORY_BYTES), `${what}: tag history`);
    return parseTagHistory(json, what);
  }

  async function listTags(name: ImageName, { pageSize = TAGS_PAGE_SIZE }: { readonly pageSize?: number } = {}): Promise<string[]> {
    assertValidName(name);
    const what = `${name.registry}/${name.repository}`;
    const first = `/v2/${name.repository}/tags/list?n=${Math.max(1, Math.floor(pageSize))}`;
    const tags: string[] = [];
    const seen = new Set<string>();
    for (let path: string | undefined = first, page = 0; path !== undefined; page++) {
      if (page >= MAX_TAG_PAGES) throw new RegistryError("BAD_RESPONSE", `${what}: more than ${MAX_TAG_PAGES} pages of tags; stopped`);
      if (seen.has(path)) throw new RegistryError("BAD_RESPONSE", `${what}: the tags list links back to a page already read`);
      seen.add(path);
      const exchange = await session(name).request({ method: "GET", path, accept: "application/json", kind: "tags", what, scope: pullScope(name.repository) });
      if (exchange.status !== 200) throw await failureFrom(exchange, { what, action: "tags list request", registry: name.registry });
      const link = exchange.headers.get("link");
      const json = parseJsonObject(await exchange.bytes(MAX_TAGS_PAGE_BYTES), `${what}: tags list`);
      const listed = json["tags"];
      if (listed !== null && listed !== undefined && !Array.isArray(listed)) throw new RegistryError("BAD_RESPONSE", `${what}: the tags list is not a list`);
      for (const tag of listed ?? []) if (typeof tag === "string") tags.push(tag);
      path = nextPage(link, name, what);
    }
    return tags;
  }

  return {
    listTags,
    headManifest,
    getManifest,
    getBlob,
    openBlob,
    referrers,
    tagHistory,
    stats: () => transport.stats(),
  };
}

/**
 * The next page of a tags list from its `Link: <…?last=x&n=y>; rel="next"` header (distribution spec), kept on the
 * same repository's tags endpoint of the same registry: a registry's answer never sends digesta elsewhere.
 */
export function nextPage(link: string | null, name: ImageName, what: string): string | undefined {
  if (!link) return undefined;
  const next = /<([^>]*)>\s*;[^,]*\brel="?next"?/i.exec(link)?.[1];
  if (next === undefined) return undefined;
  const base = new URL("http://registry.invalid/");
  const url = new URL(next, base);
  const sameRegistry = url.origin === base.origin || url.host === registryEndpoint(name.registry);
  if (!sameRegistry || url.pathname !== `/v2/${name.repository}/tags/list`) {
    throw new RegistryError("BAD_RESPONSE", `${what}: the tags list links its next page outside the repository (${next.slice(0, 100)}); refusing to follow`);
  }
  return `${url.pathname}${url.search}`;
}

/** `registry/repository:tag` or `registry/repository@digest`, for messages. */
function describe(name: ImageName, reference: string): string {
  return `${name.registry}/${name.repository}${isDigest(reference) ? "@" : ":"}${reference}`;
}

function notFoundHint(exchange: Exchange, reference: string): { hint?: string } {
  if (exchange.status !== 404) return {};
  return { hint: isDigest(reference) ? "the registry no longer has this digest" : "check that the tag exists" };
}
