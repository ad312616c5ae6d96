// A TCP relay on loopback that counts the bytes crossing it in each direction: what a process actually moved over
// the network, headers and all, including what it let arrive and then threw away (a layer stream cut short still
// costs what the sockets received before the cut), which counting the bytes a client reads cannot see.
import { createServer, connect, type AddressInfo, type Socket } from "node:net";

export interface WireCount {
  /** Bytes from the server to the client. */
  readonly down: number;
  /** Bytes from the client to the server. */
  readonly up: number;
  readonly connections: number;
}

export interface WireCounter {
  /** `127.0.0.1:PORT`, to write in image references in place of the server's host. */
  readonly host: string;
  /** The count since the last reset, once every connection opened so far has closed. */
  settled(): Promise<WireCount>;
  reset(): void;
  stop(): Promise<void>;
}

export async function startWireCounter(target: { host: string; port: number }): Promise<WireCounter> {
  let count = { down: 0, up: 0, connections: 0 };
  const open = new Set<Promise<void>>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    count.connections++;
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const tally = count;
    client.on("data", (chunk: Buffer) => (tally.up += chunk.length));
    upstream.on("data", (chunk: Buffer) => (tally.down += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const closed = Promise.all(
      [client, upstream].map((s) => new Promise<void>((resolve) => s.once("close", () => resolve()))),
    ).then(() => {
      sockets.delete(client);
      sockets.delete(upstream);
      open.delete(closed);
    });
    open.add(closed);
    for (const s of [client, upstream]) s.on("error", () => (s === client ? upstream : client).destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    async settled() {
      while (open.size) await Promise.all(open);
      return { ...count };
    },
    reset() {
      count = { down: 0, up: 0, connections: 0 };
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
