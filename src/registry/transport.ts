import { type Readable, Transform } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { LimitFunction } from "p-limit";
import type { Logger } from "pino";
import type { HttpClient, HttpHeaders, HttpResponse } from "../net/http-client.js";
import { type SchemePolicy, isLoopbackHost } from "./endpoint.js";
import { RegistryError } from "./errors.js";

/** What a request was for; the client counts requests by kind. */
export type RequestKind = "ping" | "token" | "manifest" | "blob" | "referrers" | "history" | "tags";

export interface RegistryStats {
  /** Every HTTP request sent (pings, tokens, retries and redirect hops included). */
  readonly requests: number;
  /** Requests to token services (also counted in `requests`). */
  readonly tokenRequests: number;
  readonly byKind: Readonly<Record<RequestKind, number>>;
  /** Requests repeated after a 429, a 5xx or a network error. */
  readonly retries: number;
}

export interface BackoffOptions {
  /** First retry delay; each later one doubles, with jitter. Default 500 ms. */
  readonly baseMs?: number;
  /** Longest computed delay. Default 10 s. */
  readonly maxMs?: number;
  /** Longest wait a `Retry-After` header can impose. Default 60 s. */
  readonly retryAfterCapMs?: number;
}

export interface TransportOptions {
  readonly http: HttpClient;
  /** One attempt: until the headers arrive and the body is read; for a streamed body, the longest pause. */
  readonly timeoutMs: number;
  /** One operation, from its first request to the end of its body: attempts, redirects and retry waits included. */
  readonly deadlineMs: number;
  readonly retries: number;
  readonly backoff: Required<BackoffOptions>;
  readonly scheme: SchemePolicy;
  readonly hostPolicy?: (host: string) => Promise<void>;
  /** Clock in ms, for how long host-policy answers are kept. */
  readonly now: () => number;
  readonly logger?: Logger;
}

export interface TransportRequest {
  readonly method: "GET" | "HEAD" | "POST";
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly kind: RequestKind;
  /** Names the request in messages: `registry.example.test/app:1.0`. Never holds credentials. */
  readonly what: string;
  /** Concurrency slot for the registry; held until the body is read, discarded or the stream ends. */
  readonly limit?: LimitFunction;
  /** The first URL may be plain HTTP although its host is not listed (an insecure registry's own token realm). */
  readonly allowHttp?: boolean;
}

/** A response whose body is still to be read; reading or discarding it frees the connection slot. */
export interface Exchange {
  readonly status: number;
  readonly headers: HttpHeaders;
  /** Where the response came from, after redirects. */
  readonly url: URL;
  /** The whole body; TOO_LARGE (and nothing more read) past `maxBytes`. */
  bytes(maxBytes: number): Promise<Uint8Array>;
  /** Up to `maxBytes` of the body, the rest dropped: for error bodies. Never throws. */
  peek(maxBytes: number): Promise<Uint8Array>;
  discard(): void;
  /** The body as a stream; the attempt timeout becomes an idle timeout (no bytes for that long), the deadline still holds. */
  stream(): { readonly stream: Readable; abort(): void };
}

const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const HOST_CHECK_MEMORY_MS = 60_000;

/**
 * The time one operation may take (a manifest, a blob and its whole body, a token, a ping), retries included. The
 * clock starts when the operation's first request gets its connection slot, so waiting behind other requests to
 * the same registry does not count.
 */
export class Deadline {
  private end: number | undefined;

  constructor(readonly ms: number) {}

  start(): void {
    this.end ??= monotonicMs() + this.ms;
  }

  /** Milliseconds left; the whole span before the clock starts. */
  remaining(): number {
    return this.end === undefined ? this.ms : Math.max(0, this.end - monotonicMs());
  }
}

/** A monotonic clock in ms; the `performance` global would load perf_hooks (a dozen modules) into a short run. */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** What an operation is, for the retry loop's messages. */
export interface OperationLabel {
  /** Names the operation in messages: `registry.example.test/app:1.0`. */
  readonly what: string;
  /** Single attempt, no retries: probing HTTPS before falling back to HTTP. */
  readonly probe?: boolean;
}

/** Errors that already went through a retry loop: an enclosing loop does not retry them again. */
const settled = new WeakSet<RegistryError>();

/**
 * Whether a failed attempt is worth repeating: timeouts, connections that broke (before or during the body), 408,
 * 429 and 5xx answers, and bodies that did not arrive intact (shorter or longer than said, or not hashing to the
 * digest stated). Never a deadline that passed, a TLS or DNS failure, or a 4xx the registry meant.
 */
export function isRetryable(error: RegistryError): boolean {
  if (settled.has(error)) return false;
  switch (error.code) {
    case "TIMEOUT":
    case "INCOMPLETE":
    case "DIGEST_MISMATCH":
      return true;
    case "NETWORK":
      return !isPermanentNetworkError(error);
    case "DEADLINE":
      return false;
    default:
      return error.transient === true || (error.status !== undefined && RETRY_STATUSES.has(error.status));
  }
}

/**
 * HTTP for the registry client: operations retried with backoff and jitter (honouring Retry-After) within one
 * deadline, a timeout per attempt, manual redirects that drop Authorization when they leave the origin and follow
 * only HTTP(S), the plain-HTTP rule, the host policy, and request counting.
 */
export class Transport {
  private readonly counts: Record<RequestKind, number> = { ping: 0, token: 0, manifest: 0, blob: 0, referrers: 0, history: 0, tags: 0 };
  private retryCount = 0;
  /** Host-policy answers, kept a minute: DNS may change under a long-running app. */
  private readonly hostChecks = new Map<string, { readonly at: number; readonly check: Promise<void> }>();

  constructor(private readonly options: TransportOptions) {}

  stats(): RegistryStats {
    const byKind = { ...this.counts };
    const requests = Object.values(byKind).reduce((sum, n) => sum + n, 0);
    return { requests, tokenRequests: byKind.token, byKind, retries: this.retryCount };
  }

  /** A fresh deadline of the configured length. */
  deadline(): Deadline {
    return new Deadline(this.options.deadlineMs);
  }

  /**
   * Runs `operation` (requests, and the reading of their answer) until it succeeds or fails for good: retryable
   * failures (see isRetryable) are tried again after a backoff or the registry's Retry-After, while the deadline
   * leaves time for it. The error that ends the loop is the last attempt's. A `deadline` given is shared with the
   * operation this one is part of.
   */
  async perform<T>(label: OperationLabel, operation: (deadline: Deadline) => Promise<T>, deadline = this.deadline()): Promise<T> {
    const retries = label.probe ? 0 : this.options.retries;
    for (let attempt = 0; ; attempt++) {
      try {
        return await operation(deadline);
      } catch (error) {
        if (!(error instanceof RegistryError)) throw error;
        const delay = this.retryDelay(error, attempt);
        if (attempt >= retries || !isRetryable(error) || delay >= deadline.remaining()) {
          settled.add(error);
          throw error;
        }
        this.options.logger?.debug({ what: label.what, code: error.code, status: error.status, attempt, delay }, "registry request failed; retrying");
        this.retryCount++;
        await sleep(delay);
      }
    }
  }

  /** One attempt at one request, redirects followed; the answer's body is still to be read, before the deadline. */
  async send(request: TransportRequest, deadline: Deadline): Promise<Exchange> {
    const release = request.limit ? await acquire(request.limit) : () => {};
    deadline.start();
    const state = new AttemptState(this.options.timeoutMs, deadline, release);
    try {
      let url = request.url;
      let method = request.method;
      let body = request.body;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
      // Digests are of the bytes as stored: nothing is to be inflated on the way (see refuseEncoded).
      headers["accept-encoding"] ??= "identity";
      for (let hop = 0; ; hop++) {
        const exempt = hop === 0 && request.allowHttp === true && url.protocol === "http:";
        if (!exempt && !this.options.scheme.allowsUrl(url)) {
          throw new RegistryError(
            "INSECURE",
            `${request.what}: refusing plain HTTP to ${url.host}; list it as an insecure registry (--insecure-registry or DIGESTA_INSECURE_REGISTRIES) if it really has no TLS`,
          );
        }
        await this.checkHost(url.host);
        state.check(request.what, url);
        this.counts[request.kind]++;
        let response: HttpResponse;
        try {
          response = await this.options.http(url, { method, headers: { ...headers }, ...(body !== undefined ? { body } : {}), signal: state.signal });
        } catch (error) {
          throw state.failure(request.what, url) ?? new RegistryError("NETWORK", `${request.what}: cannot reach ${url.host}: ${networkReason(error)}${tlsHint(error, url)}`);
        }
        const location = response.headers.get("location");
        if (!REDIRECT_STATUSES.has(response.status) || !location) {
          refuseEncoded(response, url, request.what);
          return new HttpExchange(response, url, state, request.what);
        }
        response.discard();
        if (hop >= MAX_REDIRECTS) {
          throw new RegistryError("BAD_RESPONSE", `${request.what}: more than ${MAX_REDIRECTS} redirects, starting at ${request.url.host}`);
        }
        const next = redirectTarget(location, url, request.what);
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
          method = "GET";
          body = undefined;
        }
        // Credentials never follow a redirect off their origin (S3 and CDNs also reject requests carrying them); nor
        // does a body, which 307 and 308 would resend: a token request's body carries the identity token.
        if (next.origin !== url.origin) {
          if (body !== undefined) {
            throw new RegistryError("BAD_RESPONSE", `${request.what}: ${url.host} redirected a request with a body to ${next.host}; refusing to send it there`);
          }
          delete headers["authorization"];
        }
        url = next;
      }
    } catch (error) {
      state.finish();
      throw error;
    }
  }

  private checkHost(host: string): Promise<void> {
    const policy = this.options.hostPolicy;
    if (!policy) return Promise.resolve();
    const now = this.options.now();
    const cached = this.hostChecks.get(host);
    if (cached && now - cached.at < HOST_CHECK_MEMORY_MS) return cached.check;
    const check = policy(host).catch((error: unknown) => {
      if (error instanceof RegistryError) throw error;
      throw new RegistryError("FORBIDDEN_HOST", `refusing to contact ${host}: ${error instanceof Error ? error.message : String(error)}`);
    });
    this.hostChecks.set(host, { at: now, check });
    return check;
  }

  private retryDelay(error: RegistryError, attempt: number): number {
    if (error.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, this.options.backoff.retryAfterCapMs);
    return this.backoffDelay(attempt);
  }

  private backoffDelay(attempt: number): number {
    const { baseMs, maxMs } = this.options.backoff;
    const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

/**
 * An answer compressed although identity was asked for is refused unread, whatever the client: node:http hands
 * over the compressed bytes (which then failed as "not valid JSON" or a digest mismatch, saying nothing of why), a
 * fetch inflates them.
 */
function refuseEncoded(response: HttpResponse, url: URL, what: string): void {
  const encoding = response.headers.get("content-encoding")?.trim().toLowerCase();
  if (!encoding || encoding === "identity") return;
  response.discard();
  throw new RegistryError(
    "BAD_RESPONSE",
    `${what}: ${url.host} sent a compressed answer (Content-Encoding: ${encoding.slice(0, 40)}) although digesta asked for none; refusing to inflate it`,
  );
}

/** Where a redirect leads: only HTTP(S), never with userinfo of its own (it would be sent to the next host). */
function redirectTarget(location: string, from: URL, what: string): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new RegistryError("BAD_RESPONSE", `${what}: ${from.host} redirected to an invalid address`);
  }
  if (next.protocol !== "http:" && next.protocol !== "https:") {
    throw new RegistryError("BAD_RESPONSE", `${what}: ${from.host} redirected to a ${next.protocol} address; only http: and https: redirects are followed`);
  }
  if (next.username || next.password) {
    throw new RegistryError("BAD_RESPONSE", `${what}: ${from.host} redirected to ${next.host} with credentials in the address; refusing to follow it`);
  }
  return next;
}

/** `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Holds a p-limit slot until the returned function is called (p-limit frees slots when a task settles). */
function acquire(limit: LimitFunction): Promise<() => void> {
  return new Promise((resolveAcquired) => {
    void limit(() => new Promise<void>((release) => resolveAcquired(release)));
  });
}

/**
 * One attempt's timers: the attempt timeout (re-armed by each chunk of a streamed body) and the operation's deadline
 * (never re-armed); either aborts the transfer. Holds the connection slot until the body is read or dropped.
 */
class AttemptState {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly deadlineTimer: NodeJS.Timeout;
  private released = false;
  private timedOut = false;
  private deadlinePassed = false;
  /** Called besides the abort when a timer fires during streaming. */
  onTimeout: (() => void) | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly deadline: Deadline,
    private readonly release: () => void,
  ) {
    this.deadlineTimer = setTimeout(() => this.expire("deadline"), deadline.remaining());
    this.arm();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Throws when a timer already fired: no new request after the deadline. */
  check(what: string, url: URL): void {
    const failure = this.failure(what, url);
    if (failure) throw failure;
  }

  /** The timeout or deadline error, when a timer has fired; undefined otherwise (the failure was something else). */
  failure(what: string, url: URL): RegistryError | undefined {
    if (this.deadlinePassed || this.deadline.remaining() <= 0) return deadlineError(what, url, this.deadline.ms);
    if (this.timedOut) return timeoutError(what, url, this.timeoutMs);
    return undefined;
  }

  arm(): void {
    if (this.released) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.expire("timeout"), this.timeoutMs);
  }

  abort(): void {
    this.controller.abort();
    this.finish();
  }

  finish(): void {
    clearTimeout(this.timer);
    clearTimeout(this.deadlineTimer);
    if (this.released) return;
    this.released = true;
    this.release();
  }

  private expire(which: "timeout" | "deadline"): void {
    if (which === "deadline") this.deadlinePassed = true;
    else this.timedOut = true;
    this.onTimeout?.();
    this.controller.abort();
  }
}

class HttpExchange implements Exchange {
  readonly status: number;
  readonly headers: HttpHeaders;
  private used = false;

  constructor(
    private readonly response: HttpResponse,
    readonly url: URL,
    private readonly state: AttemptState,
    private readonly what: string,
  ) {
    this.status = response.status;
    this.headers = response.headers;
  }

  async bytes(maxBytes: number): Promise<Uint8Array> {
    this.claim();
    const declared = Number(this.headers.get("content-length"));
    if (Number.isFinite(declared) && declared > maxBytes) {
      this.state.abort();
      throw tooLarge(this.what, maxBytes);
    }
    try {
      const body = await this.read(maxBytes);
      if (body === "too large") throw tooLarge(this.what, maxBytes);
      // A decoded body (Content-Encoding) has another length than the one declared for the encoded bytes.
      const encoded = (this.headers.get("content-encoding") ?? "identity").toLowerCase() !== "identity";
      if (this.headers.has("content-length") && Number.isSafeInteger(declared) && !encoded && body.byteLength !== declared) {
        throw new RegistryError(
          "INCOMPLETE",
          `${this.what}: ${this.url.host} sent ${body.byteLength} bytes where it announced ${declared}; refusing the answer`,
        );
      }
      return body;
    } finally {
      this.state.finish();
    }
  }

  async peek(maxBytes: number): Promise<Uint8Array> {
    this.claim();
    try {
      const body = await this.read(maxBytes, true);
      return body === "too large" ? new Uint8Array() : body;
    } catch {
      return new Uint8Array();
    } finally {
      this.state.finish();
    }
  }

  discard(): void {
    if (this.used) return;
    this.used = true;
    this.response.discard();
    this.state.finish();
  }

  stream(): { readonly stream: Readable; abort(): void } {
    this.claim();
    const state = this.state;
    const output = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        state.arm();
        callback(null, chunk);
      },
    });
    state.onTimeout = () => output.destroy(state.failure(this.what, this.url));
    const body = this.response.body;
    if (!body) {
      output.end();
    } else {
      const source = body;
      source.on("error", (error) => output.destroy(state.failure(this.what, this.url) ?? brokenError(this.what, this.url, error)));
      source.pipe(output);
      // However the consumer stops (end, destroy, a failed pipeline), the transfer stops with it.
      output.once("close", () => source.destroy());
    }
    output.once("close", () => state.abort());
    state.arm();
    return {
      stream: output,
      abort: () => {
        output.destroy();
        state.abort();
      },
    };
  }

  private claim(): void {
    if (this.used) throw new Error("response body already consumed");
    this.used = true;
  }

  /** Reads the body, stopping (and aborting the transfer) once it passes `maxBytes`; with `truncate`, keeps what fits. */
  private async read(maxBytes: number, truncate = false): Promise<Uint8Array | "too large"> {
    const body = this.response.body;
    if (!body) return new Uint8Array();
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for await (const chunk of body) {
        const value = chunk as Uint8Array;
        if (total + value.byteLength > maxBytes) {
          this.state.abort();
          if (!truncate) return "too large";
          chunks.push(value.subarray(0, maxBytes - total));
          total = maxBytes;
          break;
        }
        chunks.push(value);
        total += value.byteLength;
      }
    } catch (error) {
      throw this.state.failure(this.what, this.url) ?? brokenError(this.what, this.url, error);
    }
    return Buffer.concat(chunks, total);
  }
}

function tooLarge(what: string, maxBytes: number): RegistryError {
  return new RegistryError("TOO_LARGE", `${what}: the response is larger than ${formatBytes(maxBytes)}; refusing to read it`);
}

function timeoutError(what: string, url: URL, timeoutMs: number): RegistryError {
  return new RegistryError("TIMEOUT", `${what}: ${url.host} sent nothing for ${seconds(timeoutMs)}; retry later or raise the timeout (--timeout or DIGESTA_TIMEOUT)`);
}

function deadlineError(what: string, url: URL, deadlineMs: number): RegistryError {
  return new RegistryError(
    "DEADLINE",
    `${what}: no complete answer from ${url.host} within the ${seconds(deadlineMs)} deadline; retry later or raise it (--deadline or DIGESTA_DEADLINE)`,
  );
}

function brokenError(what: string, url: URL, error: unknown): RegistryError {
  return new RegistryError("NETWORK", `${what}: the connection to ${url.host} broke while reading: ${networkReason(error)}`);
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;
  if (n >= 1024) return `${Math.round((n / 1024) * 10) / 10} KiB`;
  return `${n} bytes`;
}

/** The innermost cause of a fetch failure, as a short code or message (undici wraps it in "fetch failed"). */
function networkReason(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5; depth++) {
    const cause = (current as { cause?: unknown } | null)?.cause;
    if (cause === undefined || cause === null) break;
    current = cause;
  }
  const code = (current as { code?: unknown } | null)?.code;
  const message = current instanceof Error ? current.message : String(current);
  const text = typeof code === "string" && !message.includes(code) ? `${code} ${message}` : message;
  return text.replace(/[\r\n\t]+/g, " ").slice(0, 300);
}

// A proxy that refused a tunnel (403, 407) refuses it again; one that failed otherwise (502) may not.
const PERMANENT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ENOTFOUND|ERR_INVALID_URL|EPROXYREFUSED|EDIGESTAPRIVATE/;

function isPermanentNetworkError(error: RegistryError): boolean {
  return PERMANENT_CODES.test(error.message);
}

function tlsHint(error: unknown, url: URL): string {
  if (url.protocol !== "https:") return "";
  const reason = networkReason(error);
  if (/wrong version number|EPROTO|packet length too long/i.test(reason) && !isLoopbackHost(url.host)) {
    return `; if ${url.host} serves plain HTTP, list it as an insecure registry`;
  }
  return "";
}
