// Run as its own process by http-client.test.ts (the suite's nock hooks change how Node pools connections): answers of
// every kind are discarded unread through nodeHttpClient on Node's global agent, then the script simply ends. It
// prints how many connections the server saw per kind; the process exits by itself only if no answer still holds one.
import { once } from "node:events";
import { createServer, globalAgent, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { nodeHttpClient } from "../../src/net/http-client.js";

const answers: Record<string, (res: ServerResponse) => void> = {
  "whole body": (res) => res.end("{}"),
  "empty body": (res) => res.end(),
  "body still arriving": (res) => {
    res.writeHead(404, { "content-length": "19" });
    res.write("404 page not");
    setTimeout(() => res.end(" found\n"), 20);
  },
  "HEAD answer": (res) => {
    res.writeHead(200, { "content-length": "1234" });
    res.end();
  },
};

const client = nodeHttpClient();
const seen: Record<string, number> = {};
for (const [kind, answer] of Object.entries(answers)) {
  let connections = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => answer(res));
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const method = kind === "HEAD answer" ? "HEAD" : "GET";
  for (let i = 0; i < 3; i++) {
    // The agent takes a connection back once the answer's end is read (for a HEAD, at once); the next request reuses it.
    const freed = once(globalAgent, "free");
    const response = await client(url, { method, headers: {}, signal: new AbortController().signal });
    // The second time, the whole answer has arrived before it is discarded; the others, maybe not yet.
    const body = response.body as IncomingMessage | null;
    while (i === 1 && body && !body.complete) await new Promise((resolve) => setImmediate(resolve));
    response.discard();
    await freed;
  }
  seen[kind] = connections;
  // Stops listening (and closes the idle connections on its side).
  server.close();
}
process.stdout.write(`${JSON.stringify(seen)}\n`);
