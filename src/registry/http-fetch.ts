import { request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

/** Statuses whose responses have no body, whatever the headers say (RFC 9110). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
/** Most of a cancelled body worth reading to keep its connection (an error page); more is cut off. */
const DRAIN_LIMIT = 64 * 1024;
const DRAIN_MS = 1000;

/**
 * A `fetch` over node:http and node:https, for the registry client's direct connections. Node's own fetch (undici)
 * compiles a WebAssembly HTTP parser on its first request, which costs a command-line run several times what the
 * request itself does. Only what the client's transport asks of fetch is supported: a method, headers, a string
 * body, `redirect: "manual"` (redirects come back as responses) and an abort signal; failures reject with a
 * TypeError whose `cause` is the network error, as fetch's do. Bodies are not decoded (no Accept-Encoding is sent).
 * Idle keep-alive connections stay in Node's global agents, which do not keep the process alive.
 */
export const httpFetch: typeof fetch = (input, init = {}) => {
  const url = input instanceof URL ? input : new URL(typeof input === "string" ? input : (input as Request).url);
  return new Promise<Response>((resolve, reject) => {
    if (init.redirect !== "manual") {
      reject(new TypeError(`httpFetch follows no redirects: pass redirect: "manual" (got ${String(init.redirect)})`));
      return;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      reject(new TypeError(`fetch failed`, { cause: new Error(`unsupported protocol ${url.protocol}`) }));
      return;
    }
    const signal = init.signal ?? undefined;
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    if (init.body !== undefined && init.body !== null && typeof init.body !== "string") {
      reject(new TypeError("httpFetch sends string bodies only"));
      return;
    }
    const body = init.body ?? undefined;
    const headers: Record<string, string> = { "user-agent": "digesta" };
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
    const method = (init.method ?? "GET").toUpperCase();

    let settled = false;
    let response: IncomingMessage | undefined;
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    const fail = (error: unknown) => {
      if (!settled) {
        settled = true;
        reject(error instanceof DOMException ? error : new TypeError("fetch failed", { cause: error }));
      } else if (controller) {
        try {
          controller.error(error instanceof DOMException ? error : new TypeError("terminated", { cause: error }));
        } catch {
          // the stream was already closed or cancelled
        }
        controller = undefined;
      }
    };
    const onAbort = () => {
      const reason = abortReason(signal!);
      fail(reason);
      request.destroy();
      response?.destroy();
    };

    const request: ClientRequest = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, { method, headers });
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => signal?.removeEventListener("abort", onAbort);
    request.on("error", (error) => {
      done();
      fail(error);
    });
    request.on("response", (res) => {
      response = res;
      const status = res.statusCode ?? 0;
      const responseHeaders = new Headers();
      let result: Response;
      try {
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        const stream = method === "HEAD" || NULL_BODY_STATUSES.has(status) ? null : bodyStream(res, done, fail, (c) => (controller = c));
        if (stream === null) {
          res.on("error", done);
          res.once("end", done);
          res.resume();
        }
        result = new Response(stream, { status, statusText: res.statusMessage ?? "", headers: responseHeaders });
      } catch (error) {
        // A status outside 200-599 or a header value Headers refuses: no response fetch would hand back.
        done();
        res.destroy();
        fail(error);
        return;
      }
      settled = true;
      resolve(result);
    });
    request.end(body);
  });
};

/** The response body as a web stream that reads only as fast as its reader does, and stops the transfer when cancelled. */
function bodyStream(
  res: IncomingMessage,
  done: () => void,
  fail: (error: unknown) => void,
  setController: (controller: ReadableStreamDefaultController<Uint8Array> | undefined) => void,
): ReadableStream<Uint8Array> {
  let open = true;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        setController(controller);
        res.on("data", (chunk: Buffer) => {
          if (!open) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) res.pause();
        });
        res.once("end", () => {
          done();
          if (!open) return;
          open = false;
          setController(undefined);
          try {
            controller.close();
          } catch {
            // errored meanwhile (an abort): the reader already has its error
          }
        });
        // A connection that closes before the whole body arrived errors the response (ECONNRESET "aborted").
        res.once("error", (error) => {
          done();
          if (!open) return;
          fail(error);
          open = false;
        });
        res.pause();
      },
      pull() {
        res.resume();
      },
      cancel() {
        open = false;
        setController(undefined);
        done();
        // A short rest is read and dropped, so the connection can carry the next request; a long one is cut off.
        if (res.complete) return;
        const length = Number(res.headers["content-length"]);
        if (!(length <= DRAIN_LIMIT)) return void res.destroy();
        const cutOff = setTimeout(() => res.destroy(), DRAIN_MS).unref();
        res.once("close", () => clearTimeout(cutOff));
        res.resume();
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason instanceof Error || signal.reason instanceof DOMException ? signal.reason : new DOMException("This operation was aborted", "AbortError");
}
