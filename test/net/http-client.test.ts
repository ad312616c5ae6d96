import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runProcess } from "../support/process.js";
import { nodeHttpClient, type HttpResponse } from "../../src/net/http-client.js";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** A real HTTP server on loopback answering with `handler`. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handler(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const client = nodeHttpClient();
const get = (url: string, init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {}) =>
  client(new URL(url), { method: init.method ?? "GET", headers: init.headers ?? {}, signal: init.signal ?? new AbortController().signal, ...(init.body !== undefined ? { body: init.body } : {}) });

async function text(response: HttpResponse): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response.body!) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

describe("nodeHttpClient", () => {
  it("sends method, headers and a string body, and hands back status, every header and the body", async () => {
    const origin = await serve((req, res, body) => {
      res.writeHead(201, [
        ["content-type", "application/json"],
        ["www-authenticate", 'Bearer realm="a"'],
        ["www-authenticate", 'Basic realm="b"'],
      ]);
      res.end(JSON.stringify({ method: req.method, auth: req.headers["authorization"], length: req.headers["content-length"], body }));
    });
    const response = await get(`${origin}/token`, { method: "POST", headers: { authorization: "Bearer x" }, body: "grant=é" });
    expect(response.status).toBe(201);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="a", Basic realm="b"');
    expect(JSON.parse(await text(response))).toEqual({ method: "POST", auth: "Bearer x", length: String(Buffer.byteLength("grant=é")), body: "grant=é" });
  });

  it("returns redirects as they are, without following them", async () => {
    const origin = await serve((_req, res) => {
      res.writeHead(307, { location: "https://elsewhere.invalid/blob" });
      res.end();
    });
    const response = await get(`${origin}/v2/x/blobs/y`);
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("https://elsewhere.invalid/blob");
  });

  it("gives a HEAD response no body, whatever its Content-Length says", async () => {
    const origin = await serve((_req, res) => {
      res.writeHead(200, { "content-length": "1234", "docker-content-digest": "sha256:abc" });
      res.end();
    });
    const response = await get(origin, { method: "HEAD" });
    expect(response.body).toBeNull();
    // The connection is free for the next request: a HEAD answer is complete without a body.
    expect((await get(origin, { method: "HEAD" })).status).toBe(200);
    expect(response.headers.get("docker-content-digest")).toBe("sha256:abc");
  });

  it("gives the connection back when an answer is discarded unread, whole, empty, still arriving or a HEAD's", async () => {
    // In a process of its own: the suite's nock hooks change how Node pools connections. It exits by itself only if
    // no discarded answer still holds its connection (which would also keep the Action's process alive).
    const root = resolve(import.meta.dirname, "../..");
    const run = await runProcess(process.execPath, ["--import", "tsx", "test/net/discard-process.ts"], { cwd: root, env: { PATH: process.env["PATH"] }, killAfterMs: 50_000 });
    expect(run.stderr).toBe("");
    expect(run.signal, "the process had to be killed: an answer still held its connection").toBeNull();
    expect(run.code).toBe(0);
    // One connection per server: each next request went out on the connection the discarded answer gave back.
    expect(JSON.parse(run.stdout)).toEqual({ "whole body": 1, "empty body": 1, "body still arriving": 1, "HEAD answer": 1 });
  });

  it("streams a large body no faster than it is read, and stops the transfer when the reader cancels", async () => {
    let closed = false;
    const origin = await serve((_req, res) => {
      res.on("close", () => (closed = true));
      const chunk = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const more = () => {
        while (sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", more);
        }
        res.end();
      };
      more();
    });
    const response = await get(origin);
    const first = await new Promise<Buffer>((resolve) => response.body!.once("data", resolve));
    expect(first.byteLength).toBeGreaterThan(0);
    response.body!.destroy();
    await expect.poll(() => closed).toBe(true);
  });

  it("errors the body when the connection closes before Content-Length bytes arrived", async () => {
    const origin = await serve((_req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("x".repeat(50));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const response = await get(origin);
    await expect(text(response)).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("rejects with the network error when nothing listens", async () => {
    const origin = await serve(() => {});
    const port = new URL(origin).port;
    server!.close();
    const error = await get(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect((error as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
  });

  it("stops at an abort, before the answer and while reading the body", async () => {
    const origin = await serve((req, res) => {
      if (req.url === "/slow") return; // never answers
      res.writeHead(200, { "content-length": "10" });
      res.write("12345");
    });
    const before = new AbortController();
    const pending = get(`${origin}/slow`, { signal: before.signal });
    setTimeout(() => before.abort(), 20);
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });

    const during = new AbortController();
    const response = await get(`${origin}/body`, { signal: during.signal });
    const reading = text(response);
    during.abort();
    await expect(reading).rejects.toMatchObject({ name: "AbortError" });
    await expect(get(origin, { signal: during.signal })).rejects.toMatchObject({ name: "AbortError" });
  });

  it("refuses a status outside 200-599, as a network failure", async () => {
    const origin = await serve((_req, res) => {
      res.socket!.end("HTTP/1.1 999 Odd\r\ncontent-length: 0\r\n\r\n");
    });
    await expect(get(origin)).rejects.toMatchObject({ code: "ERR_INVALID_STATUS" });
  });
});
