// A real Redis for fleet-mode tests: Debian's `redis-server` on a free loopback port, nothing saved to disk.
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "./free-port.js";

export interface TestRedis {
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;


/** Starts `redis-server` and waits until it accepts connections; retries on a port lost to a race. */
export async function startRedis(): Promise<TestRedis> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const child of running) child.kill("SIGKILL");
    });
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "notice"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    running.add(child);
    child.once("exit", () => running.delete(child));
    let output = "";
    const ready = await new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`redis-server did not start within ${READY_TIMEOUT_MS} ms: ${output.slice(-2000)}`));
      }, READY_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        output += chunk.toString("utf8");
        if (/Ready to accept connections/i.test(output)) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(new Error(`could not run redis-server (is the Debian package installed?): ${error.message}`));
      });
      child.once("exit", () => {
        clearTimeout(timer);
        if (/address already in use/i.test(output)) resolve(false);
        else reject(new Error(`redis-server exited during start-up: ${output.slice(-2000)}`));
      });
    });
    if (!ready) continue;
    child.stdout!.resume();
    child.stderr!.resume();
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
      },
    };
  }
  throw new Error("redis-server lost the race for a free port five times");
}
