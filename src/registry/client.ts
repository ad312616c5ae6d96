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
  sha256,
  sha256Digest,
} from "./manifest.js";
import { parseMirrors, withMirrors } from "./mirrors.js";
import { failureFrom } from "./response.js";
import type { LookupFunction } from "node:net";
import { type HttpClient, fetchHttpClient, nodeHttpClient } from "../net/http-client.js";
import { proxyAgents, proxyFor, proxySettingsFromEnv } from "../net/proxy.js";
import { type BackoffOptions, type Deadline, type Exchange, type RegistryStats, type RequestKind, Transport } from "./transport.js";
import { type BlobStream, type Descriptor, type FetchedManifest, MediaType, type Registry, type TagHistoryEntry } from "./types.js";
import { digestTag } from "../reference/format.js";

export type { RegistryStats, RequestKind, BackoffOptions };

export interface RegistryClientOptions {
  /** Where credentials come from; default: the Docker config (`$DOCKER_CONFIG` or `~/.docker`) and its helpers. */
  readonly credentials?: CredentialSource;
  /** Hosts (with or without port) allowed over plain HTTP besides loopback; `DIGESTA_INSECURE_REGISTRIES` adds more. */
  readonly insecureRegistries?: readonly string[];
  /**
   * Per attempt: until the headers arrive and the body is read; for streamed blobs, the longest pause. Default 30 s,
   * or `DIGESTA_TIMEOUT` (seconds).
   */
  readonly timeoutMs?: number;
  /**
   * Per operation (a manifest, a blob with its whole body even when streamed, a token, a ping), retries included: past
   * it the operation fails with DEADLINE. Default 120 s, or `DIGESTA_DEADLINE` (seconds).
   */
  readonly deadlineMs?: number;
  /** Retries after a timeout, a broken connection, a 408, 429 or 5xx, or a body that did not arrive intact. Default 3, or `DIGESTA_RETRIES`. */
  readonly retries?: number;
  /** Requests in flight to one registry at once. Default 8. */
  readonly maxConcurrentPerRegistry?: number;
  /** Debug lines only; never given credentials or tokens. */
  readonly logger?: Logger;
  /** Called with each host (`host[:port]`) before the first request to it; may throw RegistryError FORBIDDEN_HOST. */
  readonly hostPolicy?: (host: string) => Promise<void>;
  /** How requests are sent; default node:http and node:https (nodeHttpClient), which cost a short run far less than Node's fetch. */
  readonly http?: HttpClient;
  /** A WHATWG fetch to send requests with instead (tests' fakes); `http` wins when both are given. */
  readonly fetch?: typeof fetch;
  /**
   * Resolves registry hosts for every connection, direct or through a proxy (whose CONNECT then names the address
   * resolved): the app's check against private addresses at connection time (createAddressCheckedLookup).
   */
  readonly lookup?: LookupFunction;
  /**
   * Registries read through a mirror, as `REGISTRY=MIRROR[/PREFIX]` entries (commas allowed); `DIGESTA_REGISTRY_MIRRORS`
   * adds more. See withMirrors.
   */
  readonly mirrors?: readonly string[];
  /** Told of every request sent and how it ended: the status, or 0 for a network failure (metrics). */
  readonly observe?: (request: ObservedRequest) => void;
  /** Retry delays; tests shrink them. Default base `DIGESTA_RETRY_DELAY` (seconds) or 0.5 s. */
  readonly backoff?: BackoffOptions;
  /** Clock for token expiry, in ms; tests move it. Default Date.now. */
  readonly now?: () => number;
  /** Environment for `DIGESTA_INSECURE_REGISTRIES` and the default credential source. Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface ObservedRequest {
  readonly host: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
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

  /** One attempt at a request (with one more after a 401 that a fresh token may answer); no retries. */
  async request(request: SessionRequest, deadline: Deadline): Promise<Exchange> {
    const { origin, auth } = await this.connect();
    const url = new URL(request.path, origin);
    const send = (authorization: string | undefined): Promise<Exchange> =>
      this.deps.transport.send(
        {
          method: request.method,
          url,
          headers: { accept: request.accept, ...(authorization ? { authorization } : {}) },
          kind: request.kind,
          what: request.what,
          limit: this.limit,
        },
        deadline,
      );
    const first = await auth.authorization(request.scope);
    const exchange = await send(first.header);
    if (exchange.status !== 401) return exchange;
    // A 401 from wherever a redirect led is that host's business: its challenge is never adopted, so neither a token
    // nor credentials go to a realm it names. Credentials go only to the registry and the realm the registry names.
    if (exchange.url.origin !== origin.origin) return exchange;

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
   * `GET /v2/` once. HTTPS, or for hosts allowed plain HTTP (insecure registries) HTTPS first and HTTP when HTTPS
   * cannot connect, as Docker does. A loopback registry (not reached through a proxy) is asked over plain HTTP first,
   * as go-containerregistry's Registry.Scheme() says for localhost: its bytes never leave the machine, and a TLS
   * handshake costs a short run more than its requests do; HTTPS follows when the port turns out to speak TLS (the
   * connection fails, a 400 answers plain HTTP, as Go's and nginx's TLS servers do, or plain HTTP redirects to
   * HTTPS). A failed ping (after its
   * retries) is remembered for a minute, so thousands of pins on a registry that is down fail fast instead of each
   * retrying.
   */
  private async ping(): Promise<Connection> {
    const host = registryEndpoint(this.registry);
    const secure = new URL(`https://${host}`);
    const plain = new URL(`http://${host}`);
    const { scheme } = this.deps;
    const origins = scheme.prefersHttp(plain) ? [plain, secure] : scheme.allowsHttp(host) ? [secure, plain] : [secure];
    /** A plain-HTTP answer of 400: the registry, if HTTPS does not answer either. */
    let refused: Connection | undefined;
    for (const [index, origin] of origins.entries()) {
      const last = index === origins.length - 1;
      let answer: PingAnswer;
      try {
        // A probe is tried once: another scheme follows, or plain HTTP already answered.
        const probe = !last || refused !== undefined;
        answer = await this.deps.transport.perform({ what: this.registry, probe }, (deadline) => this.pingOnce(origin, deadline));
      } catch (error) {
        if (!last && origin.protocol === "http:" && index === 0 && slow(error)) {
          // A TLS port answers plain HTTP at once (a 400, or a closed connection); one that is only slow to answer is
          // a busy plain-HTTP registry, whose HTTPS attempt would fail with a reset that hides the real trouble.
          this.deps.logger?.debug({ registry: this.registry }, "plain HTTP was slow to answer; asking it again with retries");
          answer = await this.deps.transport.perform({ what: this.registry }, (deadline) => this.pingOnce(origin, deadline));
          return { origin, auth: new Authenticator(this.registry, origin, answer.challenge, this.deps) };
        }
        if (!last && unreachable(error)) {
          this.deps.logger?.debug({ registry: this.registry, scheme: origin.protocol }, "ping failed; trying the other scheme");
          continue;
        }
        if (refused && unreachable(error)) return refused;
        throw error;
      }
      const connection = { origin, auth: new Authenticator(this.registry, origin, answer.challenge, this.deps) };
      if (!last && origin.protocol === "http:" && answer.redirectedToHttps) {
        this.deps.logger?.debug({ registry: this.registry }, "plain HTTP redirects to HTTPS; using HTTPS");
        continue;
      }
      if (!last && origin.protocol === "http:" && answer.status === 400) {
        this.deps.logger?.debug({ registry: this.registry }, "plain HTTP answered 400; trying HTTPS");
        refused = connection;
        continue;
      }
      this.deps.logger?.debug({ registry: this.registry, scheme: origin.protocol, challenge: answer.challenge?.scheme }, "pinged registry");
      return connection;
    }
    throw new RegistryError("NETWORK", `${this.registry}: cannot reach the registry`);
  }

  /** One `GET /v2/`: its status, and the challenge of a 401 from the registry's own origin (a redirect elsewhere names none). */
  private async pingOnce(origin: URL, deadline: Deadline): Promise<PingAnswer> {
    const exchange = await this.deps.transport.send(
      { method: "GET", url: new URL("/v2/", origin), headers: {}, kind: "ping", what: this.registry, limit: this.limit },
      deadline,
    );
    if (exchange.status >= 500 || exchange.status === 429 || exchange.status === 408) {
      throw await failureFrom(exchange, { what: this.registry, action: "registry ping", registry: this.registry });
    }
    exchange.discard();
    const redirectedToHttps = origin.protocol === "http:" && exchange.url.protocol === "https:";
    if (exchange.status !== 401 || exchange.url.origin !== origin.origin) return { status: exchange.status, redirectedToHttps };
    const challenge = pickChallenge(parseWwwAuthenticate(exchange.headers.get("www-authenticate") ?? ""));
    return { status: exchange.status, redirectedToHttps, ...(challenge ? { challenge } : {}) };
  }
}

interface PingAnswer {
  readonly status: number;
  /** A plain-HTTP ping that ended on HTTPS: the registry wants HTTPS. */
  readonly redirectedToHttps: boolean;
  readonly challenge?: Challenge;
}

/** A ping that found nobody answering on that scheme: worth trying the other one. */
function slow(error: unknown): boolean {
  return error instanceof RegistryError && (error.code === "TIMEOUT" || error.code === "DEADLINE");
}

function unreachable(error: unknown): boolean {
  return error instanceof RegistryError && (error.code === "NETWORK" || error.code === "TIMEOUT" || error.code === "DEADLINE");
}

/** The OCI distribution client digesta uses: see RegistryClientOptions for its behaviour. */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const env = options.env ?? process.env;
  const logger = options.logger;
  // HTTPS_PROXY, HTTP_PROXY and NO_PROXY apply to the client's own connections, not to an HttpClient or fetch given.
  const proxies = options.http || options.fetch ? undefined : proxySettingsFromEnv(env);
  const http =
    options.http ??
    (options.fetch
      ? fetchHttpClient(options.fetch)
      : nodeHttpClient({
          ...(options.lookup ? { lookup: options.lookup } : {}),
          ...(proxies ? { connect: proxyAgents(proxies, options.lookup ? { lookup: options.lookup } : {}) } : {}),
        }));
  const scheme = new SchemePolicy(
    [...(options.insecureRegistries ?? []), ...insecureRegistriesFromEnv(env)],
    proxies ? (url) => proxyFor(proxies, url) !== undefined : undefined,
  );
  const fromEnv = networkSettingsFromEnv(env);
  const transport = new Transport({
    http: options.observe ? observed(http, options.observe) : http,
    timeoutMs: options.timeoutMs ?? fromEnv.timeoutMs ?? 30_000,
    deadlineMs: options.deadlineMs ?? fromEnv.deadlineMs ?? 120_000,
    retries: options.retries ?? fromEnv.retries ?? 3,
    backoff: {
      baseMs: options.backoff?.baseMs ?? fromEnv.retryDelayMs ?? 500,
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
  function manifestRequest(method: "GET" | "HEAD", name: ImageName, reference: string, deadline: Deadline): Promise<Exchange> {
    return session(name).request(
      {
        method,
        path: `/v2/${name.repository}/manifests/${reference}`,
        accept: MANIFEST_ACCEPT,
        kind: "manifest",
        what: describe(name, reference),
        scope: pullScope(name.repository),
      },
      deadline,
    );
  }

  /**
   * A manifest by digest is verified against that digest. A tag's manifest is the digest the registry states for it
   * (Docker-Content-Digest), checked against the bytes received; where the registry states none (or one that is no
   * sha256 digest), the body's hash is all there is, so it is confirmed by asking the registry for that digest: a body
   * altered on the way hashes to a digest the registry does not have. An answer that does not verify is retried.
   */
  function getManifest(name: ImageName, reference: string): Promise<FetchedManifest> {
    return fetchManifest(name, reference, transport.deadline());
  }

  async function fetchManifest(name: ImageName, reference: string, deadline: Deadline): Promise<FetchedManifest> {
    assertValidName(name);
    assertValidReference(name, reference);
    const what = describe(name, reference);
    const byDigest = isDigest(reference);
    return transport.perform({ what }, async () => {
      const exchange = await manifestRequest("GET", name, reference, deadline);
      if (exchange.status !== 200) {
        throw await failureFrom(exchange, { what, action: "manifest request", registry: name.registry, ...notFoundHint(exchange, reference) });
      }
      const bytes = await exchange.bytes(MAX_MANIFEST_BYTES);
      const digest = sha256Digest(bytes);
      const stated = statedDigest(exchange);
      if (byDigest && digest !== reference) {
        throw new RegistryError("DIGEST_MISMATCH", `${what}: the registry sent a manifest whose content hashes to ${digest}; refusing it`);
      }
      if (!byDigest && stated !== undefined && stated !== digest) {
        throw new RegistryError(
          "DIGEST_MISMATCH",
          `${what}: the registry states ${stated} for the tag, but the manifest received hashes to ${digest}; refusing it`,
        );
      }
      const verified = byDigest || stated !== undefined;
      const manifest = readManifest(bytes, digest, exchange, what, verified);
      if (!verified) await confirmDigest(name, digest, what, deadline);
      return manifest;
    }, deadline);
  }

  /** A tag's body hashed to `digest` with nothing stated to check it against: the registry must have that digest. */
  async function confirmDigest(name: ImageName, digest: Digest, what: string, deadline: Deadline): Promise<void> {
    try {
      await fetchManifest(name, digest, deadline);
    } catch (error) {
      if (!(error instanceof RegistryError) || error.code !== "NOT_FOUND") throw error;
      throw new RegistryError(
        "DIGEST_MISMATCH",
        `${what}: the registry stated no digest for the tag, and has no manifest ${digest}, which the body received hashes to; refusing it`,
      );
    }
    logger?.debug({ what, digest }, "no Docker-Content-Digest; confirmed the body's digest with the registry");
  }

  /** Parses a manifest body; a body not verified against a digest that will not parse is worth asking for again. */
  function readManifest(bytes: Uint8Array, digest: Digest, exchange: Exchange, what: string, verified: boolean): FetchedManifest {
    let json: Record<string, unknown>;
    try {
      json = parseJsonObject(bytes, `${what}: manifest`);
    } catch (error) {
      if (verified || !(error instanceof RegistryError)) throw error;
      throw new RegistryError(error.code, error.message, error.status, { transient: true });
    }
    const mediaType = manifestMediaType(json, bareMediaType(exchange.headers.get("content-type")));
    if (isSchema1(mediaType, json)) {
      throw new RegistryError("BAD_RESPONSE", `${what}: the registry only has a Docker schema 1 manifest, which digesta does not support; push the image again with a current builder`);
    }
    return { digest, mediaType, bytes, json };
  }

  async function headManifest(name: ImageName, reference: string): Promise<Descriptor> {
    assertValidName(name);
    assertValidReference(name, reference);
    const what = describe(name, reference);
    const headed = await transport.perform({ what }, async (deadline): Promise<Descriptor | undefined> => {
      const exchange = await manifestRequest("HEAD", name, reference, deadline);
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
        return undefined;
      }
      if (HEAD_UNSUPPORTED.has(exchange.status)) {
        // A HEAD answer has no body to explain a 404, and some registries refuse HEAD: the GET says why.
        exchange.discard();
        return undefined;
      }
      throw await failureFrom(exchange, { what, action: "manifest request", registry: name.registry });
    });
    if (headed) return headed;
    const manifest = await getManifest(name, reference);
    return { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.byteLength };
  }

  async function blobExchange(name: ImageName, digest: Digest, deadline: Deadline): Promise<Exchange> {
    const what = describe(name, digest);
    const exchange = await session(name).request(
      { method: "GET", path: `/v2/${name.repository}/blobs/${digest}`, accept: "*/*", kind: "blob", what, scope: pullScope(name.repository) },
      deadline,
    );
    if (exchange.status !== 200) {
      throw await failureFrom(exchange, { what, action: "blob request", registry: name.registry });
    }
    return exchange;
  }

  function assertBlobDigest(name: ImageName, digest: Digest): void {
    assertValidName(name);
    if (!isDigest(digest)) throw new RegistryError("INVALID_REFERENCE", `refusing to fetch blob ${JSON.stringify(String(digest).slice(0, 80))}: not a sha256 digest`);
  }

  async function getBlob(name: ImageName, digest: Digest, maxBytes = DEFAULT_MAX_BLOB_BYTES): Promise<Uint8Array> {
    assertBlobDigest(name, digest);
    const what = describe(name, digest);
    return transport.perform({ what }, async (deadline) => {
      const bytes = await (await blobExchange(name, digest, deadline)).bytes(maxBytes);
      const actual = sha256Digest(bytes);
      if (actual !== digest) {
        throw new RegistryError("DIGEST_MISMATCH", `${what}: the blob's content hashes to ${actual}; refusing it`);
      }
      return bytes;
    });
  }

  /** Retried until the body starts; a body that breaks or stalls later ends the stream with the error (within the deadline). */
  async function openBlob(name: ImageName, digest: Digest): Promise<BlobStream> {
    assertBlobDigest(name, digest);
    const what = describe(name, digest);
    const exchange = await transport.perform({ what }, (deadline) => blobExchange(name, digest, deadline));
    const declared = Number(exchange.headers.get("content-length") ?? "");
    const { stream, abort } = exchange.stream();
    const hash = sha256();
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
    let descriptors = await transport.perform({ what }, async (deadline): Promise<Descriptor[] | undefined> => {
      const exchange = await session(name).request(
        {
          method: "GET",
          path: `/v2/${name.repository}/referrers/${digest}${query}`,
          accept: MediaType.OciIndex,
          kind: "referrers",
          what,
          scope: pullScope(name.repository),
        },
        deadline,
      );
      if (exchange.status === 200) {
        const json = parseJsonObject(await exchange.bytes(MAX_MANIFEST_BYTES), `${what}: referrers`);
        return parseIndex(json, `${what}: referrers`);
      }
      if (REFERRERS_UNSUPPORTED.has(exchange.status)) {
        exchange.discard();
        return undefined;
      }
      throw await failureFrom(exchange, { what, action: "referrers request", registry: name.registry });
    });
    if (!descriptors) {
      // The OCI 1.1 fallback: an index tagged sha256-<hex> lists the referrers.
      const tag = digestTag(digest);
      let index: FetchedManifest;
      try {
        index = await getManifest(name, tag);
      } catch (error) {
        if (error instanceof RegistryError && error.code === "NOT_FOUND") return [];
        throw error;
      }
      descriptors = parseIndex(index.json, `${describe(name, tag)}: referrers tag`);
    }
    return artifactType ? descriptors.filter((d) => d.artifactType === artifactType) : descriptors;
  }

  async function tagHistory(name: ImageName, tag: string): Promise<TagHistoryEntry[]> {
    assertValidName(name);
    assertValidReference(name, tag);
    if (isDigest(tag)) throw new RegistryError("INVALID_REFERENCE", `${describe(name, tag)}: tag history needs a tag, not a digest`);
    const what = describe(name, tag);
    return transport.perform({ what }, async (deadline) => {
      const exchange = await session(name).request(
        {
          method: "GET",
          path: `/v2/${name.repository}/_chainguard/history/${tag}`,
          accept: "application/json",
          kind: "history",
          what,
          scope: pullScope(name.repository),
        },
        deadline,
      );
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
    });
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
      const pagePath = path;
      const { link, json } = await transport.perform({ what }, async (deadline) => {
        const exchange = await session(name).request(
          { method: "GET", path: pagePath, accept: "application/json", kind: "tags", what, scope: pullScope(name.repository) },
          deadline,
        );
        if (exchange.status !== 200) throw await failureFrom(exchange, { what, action: "tags list request", registry: name.registry });
        return { link: exchange.headers.get("link"), json: parseJsonObject(await exchange.bytes(MAX_TAGS_PAGE_BYTES), `${what}: tags list`) };
      });
      const listed = json["tags"];
      if (listed !== null && listed !== undefined && !Array.isArray(listed)) throw new RegistryError("BAD_RESPONSE", `${what}: the tags list is not a list`);
      for (const tag of listed ?? []) if (typeof tag === "string") tags.push(tag);
      path = nextPage(link, name, what);
    }
    return tags;
  }

  const mirrors = new Map([
    ...parseMirrors(options.mirrors ?? [], "--registry-mirror"),
    ...parseMirrors(env["DIGESTA_REGISTRY_MIRRORS"] ? [env["DIGESTA_REGISTRY_MIRRORS"]] : [], "DIGESTA_REGISTRY_MIRRORS"),
  ]);
  return withMirrors({
    listTags,
    headManifest,
    getManifest,
    getBlob,
    openBlob,
    referrers,
    tagHistory,
    stats: () => transport.stats(),
  }, mirrors);
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

/** The digest a registry states for a manifest (`Docker-Content-Digest`), when it is a sha256 digest. */
function statedDigest(exchange: Exchange): Digest | undefined {
  const value = exchange.headers.get("docker-content-digest")?.trim();
  return value && isDigest(value) ? value : undefined;
}

/** Network settings an operator gives through the environment: seconds for times, a count for retries. */
export function networkSettingsFromEnv(env: NodeJS.ProcessEnv): {
  readonly timeoutMs?: number;
  readonly deadlineMs?: number;
  readonly retries?: number;
  readonly retryDelayMs?: number;
} {
  const ms = (name: string): number | undefined => {
    const value = env[name];
    if (value === undefined || value.trim() === "") return undefined;
    const seconds = Number(value);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`${name}="${value}" is not a number of seconds above 0`);
    return Math.round(seconds * 1000);
  };
  const retries = env["DIGESTA_RETRIES"];
  let retryCount: number | undefined;
  if (retries !== undefined && retries.trim() !== "") {
    retryCount = Number(retries);
    if (!Number.isInteger(retryCount) || retryCount < 0) throw new Error(`DIGESTA_RETRIES="${retries}" is not a whole number of at least 0`);
  }
  const timeoutMs = ms("DIGESTA_TIMEOUT");
  const deadlineMs = ms("DIGESTA_DEADLINE");
  const retryDelayMs = ms("DIGESTA_RETRY_DELAY");
  return {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    ...(retryCount !== undefined ? { retries: retryCount } : {}),
    ...(retryDelayMs !== undefined ? { retryDelayMs } : {}),
  };
}

/** `registry/repository:tag` or `registry/repository@digest`, for messages. */
function describe(name: ImageName, reference: string): string {
  return `${name.registry}/${name.repository}${isDigest(reference) ? "@" : ":"}${reference}`;
}

function notFoundHint(exchange: Exchange, reference: string): { hint?: string } {
  if (exchange.status !== 404) return {};
  return { hint: isDigest(reference) ? "the registry no longer has this digest" : "check that the tag exists" };
}

/** An HttpClient that tells `observe` of each request and how it ended; an observer's trouble is never the request's. */
function observed(http: HttpClient, observe: (request: ObservedRequest) => void): HttpClient {
  return async (url, init) => {
    const tell = (status: number) => {
      try {
        observe({ host: url.host, method: init.method, path: url.pathname, status });
      } catch {
        // ignored
      }
    };
    try {
      const response = await http(url, init);
      tell(response.status);
      return response;
    } catch (error) {
      tell(0);
      throw error;
    }
  };
}
