import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import type { LookupFunction } from "node:net";
import { Readable } from "node:stream";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";

/** The headers of an answer, by lowercase name; repeated headers come joined with ", ". */
export interface HttpHeaders {
  get(name: string): string | null;
  has(name: string): boolean;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: HttpHeaders;
  /** The body as it arrives; null for HEAD and statuses that have none. Destroying it stops the transfer. */
  readonly body: Readable | null;
  /** Drops the body unread: a short rest is drained so the connection can carry the next request, a long one cut off. */
  discard(): void;
}

export interface HttpRequest {
  readonly method: string;
  /** Lowercase names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal: AbortSignal;
}

/**
 * One HTTP request, redirects not followed (they come back as answers). Rejects with the network error (an Error with
 * a `code`: ECONNREFUSED, ERR_TLS_…), or with the signal's reason once it is aborted; so does the body.
 */
export type HttpClient = (url: URL, request: HttpRequest) => Promise<HttpResponse>;

/** Statuses whose responses have no body, whatever the headers say (RFC 9110). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
/** Most of an unwanted body worth reading to keep its connection (an error page); more is cut off. */
const DRAIN_LIMIT = 64 * 1024;
const DRAIN_MS = 1000;

export interface NodeHttpClientOptions {
  /** Resolves host names for direct connections (the app's check against private addresses). */
  readonly lookup?: LookupFunction;
  /** The connection for a URL when it is not a direct one (a proxy's tunnel); undefined means direct. */
  readonly connect?: (url: URL) => RequestOptions["agent"] | undefined;
  readonly userAgent?: string;
}

/**
 * HTTP over node:http and node:https. Node's fetch (undici) compiles its WebAssembly parser on first use and its
 * Headers and Response classes load the whole of undici's JavaScript, which costs a command-line run several times
 * what its requests do. Idle keep-alive connections stay in Node's global agents, which keep no process alive.
 */
export function nodeHttpClient(options: NodeHttpClientOptions = {}): HttpClient {
  return async (url, init) => {
    const agent = options.connect?.(url);
    // A proxy's tunnel is opened before the request: its refusal is this request's failure, in the proxy's words.
    if (agent && typeof (agent as { prepare?: unknown }).prepare === "function") {
      await abortable((agent as unknown as { prepare(url: URL): Promise<void> }).prepare(url), init.signal);
    }
    return send(url, init, agent, options);
  };
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function send(url: URL, init: HttpRequest, agent: RequestOptions["agent"] | undefined, options: NodeHttpClientOptions): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    const signal = init.signal;
    if (signal.aborted) return reject(abortReason(signal));
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return reject(Object.assign(new Error(`unsupported protocol ${url.protocol}`), { code: "ERR_INVALID_PROTOCOL" }));
    }
    const headers: Record<string, string> = { "user-agent": options.userAgent ?? "digesta", ...init.headers };
    if (init.body !== undefined) headers["content-length"] = String(Buffer.byteLength(init.body));
    const method = init.method.toUpperCase();
    // node:https (with node:tls and the crypto it loads) only when a URL needs it: a plain-HTTP run never does.
    const request = (url.protocol === "https:" ? process.getBuiltinModule("node:https").request : httpRequest)(url, {
      method,
      headers,
      ...(agent !== undefined ? { agent } : {}),
      ...(options.lookup && agent === undefined ? { lookup: options.lookup } : {}),
    });
    let response: IncomingMessage | undefined;
    const onAbort = () => {
      const reason = abortReason(signal);
      request.destroy(reason);
      response?.destroy(reason);
      reject(reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const done = () => signal.removeEventListener("abort", onAbort);
    // `on`, not `once`: a connection can fail again after the answer began (data past its end), and an 'error'
    // nobody listens to would end the process.
    request.on("error", (error) => {
      done();
      if (response) response.destroy(error);
      else reject(error);
    });
    request.on("response", (res) => {
      response = res;
      res.on("error", () => {}); // whoever reads the body sees the error; nobody reading it is no crash
      res.once("close", done);
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 599) {
        done();
        res.destroy();
        return reject(Object.assign(new Error(`the server answered with the invalid status ${status}`), { code: "ERR_INVALID_STATUS" }));
      }
      const bodiless = method === "HEAD" || NULL_BODY_STATUSES.has(status);
      if (bodiless) res.resume();
      resolve({ status, headers: incomingHeaders(res), body: bodiless ? null : res, discard: () => discardIncoming(res) });
    });
    request.end(init.body);
  });
}

function incomingHeaders(res: IncomingMessage): HttpHeaders {
  const value = (name: string): string | null => {
    const found = res.headers[name.toLowerCase()];
    if (found === undefined) return null;
    return Array.isArray(found) ? found.join(", ") : found;
  };
  return { get: value, has: (name) => value(name) !== null };
}

function discardIncoming(res: IncomingMessage): void {
  if (res.destroyed) return;
  // A body that arrived whole still waits in the stream: until it is read to its end, Node keeps the connection
  // attached to this answer (referenced, so the process cannot exit, and never back in the agent's pool).
  if (res.complete) return void res.resume();
  const length = Number(res.headers["content-length"]);
  if (!(length <= DRAIN_LIMIT)) return void res.destroy();
  const cutOff = setTimeout(() => res.destroy(), DRAIN_MS).unref();
  res.once("close", () => clearTimeout(cutOff));
  res.resume();
}

/** A WHATWG fetch (undici with a dispatcher of its own, a test's fake) as an HttpClient. */
export function fetchHttpClient(fetcher: typeof fetch): HttpClient {
  return async (url, init) => {
    const response = await fetcher(url, {
      method: init.method,
      headers: init.headers,
      ...(init.body !== undefined ? { body: init.body } : {}),
      redirect: "manual",
      signal: init.signal,
    });
    const web = response.body;
    let body: Readable | undefined;
    return {
      status: response.status,
      headers: response.headers,
      get body() {
        if (!web) return null;
        body ??= Readable.fromWeb(web as unknown as NodeWebReadableStream<Uint8Array>);
        return body;
      },
      discard() {
        if (body) body.destroy();
        else void web?.cancel().catch(() => {});
      },
    };
  };
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException("This operation was aborted", "AbortError");
}
