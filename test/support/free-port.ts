import { createServer } from "node:net";

/** A loopback port that was free a moment ago: a server started on it may still lose a race, so callers retry. */
export async function freePort(address = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, address, () => {
      const bound = server.address();
      server.close(() => (typeof bound === "object" && bound ? resolve(bound.port) : reject(new Error("no port"))));
    });
  });
}
