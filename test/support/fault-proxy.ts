// A fault-injecting HTTP proxy on loopback, in front of a real registry: each request is forwarded, and its answer
// delivered intact or damaged as `choose` decides (rate limits, server errors, resets before and during the body,
// stalls, HTML pages, a wrong Docker-Content-Digest, altered, truncated, endless and trickling bodies, redirect loops,
// gzip bombs, absurd lengths, a Retry-After of a day, and bodies that are not manifests under a digest that matches
// them). Answers are written as raw HTTP on the socket, so that a body can disagree with its own Content-Length.
import { createHash, randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export const FAULTS = [
  "rate-limit",
  "server-error",
  "html-error",
  "reset-before",
  "reset-mid-body",
  "stall",
  "html-page",
  "wrong-digest",
  "altered-body",
  "truncated-body",
  "short-body",
  "long-body",
  "no-digest-altered-body",
  "endless-body",
  "trickle",
] as const;
/** Answers a real server could give, damaged or not (the random campaign deals FAULTS; the per-command one, all). */
export const ANSWER_FAULTS = [
  "redirect-loop",
  "gzip-bomb",
  "huge-length",
  "retry-after-day",
  "empty-body",
  "invalid-json",
  "not-a-manifest",
] as const;
export const ALL_FAULTS = [...FAULTS, ...ANSWER_FAULTS] as const;
export type Fault = (typeof ALL_FAULTS)[number] | "none";

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
}

export interface FaultProxyOptions {
  /** `http://127.0.0.1:PORT` of the registry. */
  readonly target: string;
  /** The fault for one request; "none" forwards it untouched. */
  readonly choose: (request: ProxiedRequest) => Fault;
  /** Milliseconds between two bytes of a trickling body. Default 100. */
  readonly trickleMs?: number;
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`, to write in image references. */
  readonly host: string;
  /** Every request so far, with the fault it got and when it arrived (`performance.now()`). */
  readonly log: readonly (ProxiedRequest & { readonly fault: Fault; readonly at: number })[];
  stop(): Promise<void>;
}

interface Upstream {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

const PASSED_HEADERS = ["content-type", "docker-content-digest", "www-authenticate", "location", "retry-after", "docker-distribution-api-version"];
const HTML = "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head><body><h1>We'll be back soon</h1></body></html>\n";

async function forward(target: string, request: IncomingMessage): Promise<Upstream> {
  const headers: Record<string, string> = {};
  for (const name of ["accept", "authorization"]) {
    const value = request.headers[name];
    if (typeof value === "string") headers[name] = value;
  }
  const response = await fetch(new URL(request.url ?? "/", target), { method: request.method ?? "GET", headers, redirect: "manual" });
  const body = Buffer.from(await response.arrayBuffer());
  const passed: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) passed[name] = value;
  }
  if (request.method === "HEAD") {
    const length = response.headers.get("content-length");
    if (length !== null) passed["content-length"] = length;
  }
  return { status: response.status, headers: passed, body };
}

function head(status: number, headers: Record<string, string>): string {
  const lines = [`HTTP/1.1 ${status} ${status === 200 ? "OK" : "Status"}`, "connection: close"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** Writes a whole answer with the given Content-Length (the body's own by default) and closes the connection. */
function reply(socket: Socket, status: number, headers: Record<string, string>, body: Buffer, method: string, length = body.length): void {
  socket.end(Buffer.concat([Buffer.from(head(status, { ...headers, "content-length": String(length) })), method === "HEAD" ? Buffer.alloc(0) : body]));
}

/** A change that keeps a JSON body valid JSON: one space after the first brace, or one byte flipped in anything else. */
function alter(body: Buffer): Buffer {
  if (body.length === 0) return Buffer.from(" ");
  if (body[0] === 0x7b) return Buffer.concat([Buffer.from("{ "), body.subarray(1)]);
  const copy = Buffer.from(body);
  copy[copy.length - 1] = copy[copy.length - 1]! ^ 0x01;
  return copy;
}

/** 16 MiB of spaces in about 16 KiB: what a client that inflates without a limit would hold. */
let bomb: Buffer | undefined;
const gzipBomb = (): Buffer => (bomb ??= gzipSync(Buffer.alloc(16 * 1024 * 1024, 0x20), { level: 9 }));

/** A body with a Docker-Content-Digest that matches it: nothing on the wire is damaged, the registry is wrong. */
function consistent(socket: Socket, body: string, method: string): void {
  const bytes = Buffer.from(body);
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  reply(socket, 200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "docker-content-digest": digest }, bytes, method);
}

function fakeDigest(): string {
  return `sha256:${createHash("sha256").update(randomBytes(16)).digest("hex")}`;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const log: (ProxiedRequest & { fault: Fault; at: number })[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const trickleMs = options.trickleMs ?? 100;

  async function handle(request: IncomingMessage): Promise<void> {
    const socket = request.socket;
    const method = request.method ?? "GET";
    const path = request.url ?? "/";
    const fault = options.choose({ method, path });
    log.push({ method, path, fault, at: performance.now() });
    switch (fault) {
      case "reset-before":
        socket.destroy();
        return;
      case "stall":
        return; // the client's timeout ends it
      case "redirect-loop":
        reply(socket, 307, { location: `http://${request.headers.host ?? "127.0.0.1"}${path}` }, Buffer.alloc(0), method);
        return;
      case "retry-after-day":
        reply(socket, 429, { "content-type": "application/json", "retry-after": "86400" }, Buffer.from('{"errors":[{"code":"TOOMANYREQUESTS","message":"come back tomorrow"}]}'), method);
        return;
      case "huge-length":
        // Announces 5 GiB, sends a few bytes and holds the connection open.
        socket.write(head(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "content-length": String(5 * 1024 ** 3) }));
        socket.write("{");
        return;
      case "gzip-bomb":
        reply(socket, 200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "content-encoding": "gzip" }, gzipBomb(), method);
        return;
      case "invalid-json":
        consistent(socket, '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {', method);
        return;
      case "not-a-manifest":
        consistent(socket, '{"hello": "world", "manifests": "none", "layers": 7}', method);
        return;
      case "rate-limit":
        reply(socket, 429, { "content-type": "application/json", "retry-after": "0" }, Buffer.from('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}'), method);
        return;
      case "server-error":
        reply(socket, 503, { "content-type": "application/json" }, Buffer.from('{"errors":[{"code":"UNAVAILABLE","message":"backend down"}]}'), method);
        return;
      case "html-error":
        reply(socket, 502, { "content-type": "text/html" }, Buffer.from(HTML), method);
        return;
      case "html-page":
        reply(socket, 200, { "content-type": "text/html" }, Buffer.from(HTML), method);
        return;
      case "endless-body": {
        socket.write(head(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "transfer-encoding": "chunked" }));
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
        const pump = (): void => {
          while (!socket.destroyed && socket.write(frame));
          if (!socket.destroyed) socket.once("drain", pump);
        };
        pump();
        return;
      }
      default:
        break;
    }

    let upstream: Upstream | undefined;
    // A pooled connection the registry closed meanwhile fails once; that is the proxy's own trouble, not a fault.
    for (let attempt = 0; attempt < 3 && !upstream; attempt++) upstream = await forward(options.target, request).catch(() => undefined);
    if (!upstream) {
      socket.destroy();
      return;
    }
    const { status, headers, body } = upstream;
    const hasBody = method !== "HEAD" && body.length > 0;
    switch (hasBody || fault === "wrong-digest" ? fault : "none") {
      case "wrong-digest":
        reply(socket, status, { ...headers, ...(headers["docker-content-digest"] ? { "docker-content-digest": fakeDigest() } : {}) }, body, method, method === "HEAD" ? Number(headers["content-length"] ?? body.length) : body.length);
        return;
      case "altered-body":
        reply(socket, status, headers, alter(body), method);
        return;
      case "no-digest-altered-body": {
        const { "docker-content-digest": _dropped, ...rest } = headers;
        reply(socket, status, rest, alter(body), method);
        return;
      }
      case "empty-body":
        reply(socket, status, headers, Buffer.alloc(0), method);
        return;
      case "short-body":
        reply(socket, status, headers, body.subarray(0, body.length - 1), method);
        return;
      case "long-body":
        // One byte more than the registry sent, announced as such: framing holds, the bytes do not.
        reply(socket, status, headers, Buffer.concat([body, Buffer.from("\n")]), method, body.length + 1);
        return;
      case "truncated-body":
      case "reset-mid-body":
        socket.write(head(status, { ...headers, "content-length": String(body.length) }));
        socket.write(body.subarray(0, Math.max(1, Math.floor(body.length / 2))));
        if (fault === "reset-mid-body") socket.destroy();
        else socket.end();
        return;
      case "trickle": {
        socket.write(head(status, { ...headers, "content-length": String(body.length) }));
        let sent = 0;
        const timer = setInterval(() => {
          if (socket.destroyed || sent >= body.length) {
            clearInterval(timer);
            timers.delete(timer);
            socket.end();
            return;
          }
          socket.write(body.subarray(sent, sent + 1));
          sent++;
        }, trickleMs);
        timers.add(timer);
        return;
      }
      default:
        reply(socket, status, headers, body, method, method === "HEAD" ? Number(headers["content-length"] ?? body.length) : body.length);
    }
  }

  const server: Server = createServer((request) => {
    request.resume();
    handle(request).catch(() => request.socket.destroy());
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearInterval(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
