// A real forward proxy for tests: Debian's `tinyproxy` on a free loopback port, with a config file of its own (which
// ports it tunnels to, optional Basic credentials) and a log file the tests read to see what went through it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";

export interface ProxyServerOptions {
  /** Ports CONNECT may reach; tinyproxy refuses a tunnel to any other with 403. */
  readonly connectPorts: readonly number[];
  /** Basic credentials the proxy demands (407 without them). */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** How long tinyproxy keeps a quiet connection (a tunnel left idle) open, in seconds. Default 30. */
  readonly idleTimeoutSeconds?: number;
}

export interface ProxyServer {
  /** `http://127.0.0.1:PORT`, without credentials. */
  readonly url: string;
  readonly port: number;
  /** The tunnels asked for so far, as `host:port`, in order (refused ones included). */
  connects(): Promise<string[]>;
  /** The whole log, to look for what must not be in it. */
  log(): Promise<string>;
  stop(): Promise<void>;
}


function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  const dir = await mkdtemp(join(tmpdir(), "digesta-tinyproxy-"));
  const logPath = join(dir, "tinyproxy.log");
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = [
      `Port ${port}`,
      "Listen 127.0.0.1",
      `Timeout ${options.idleTimeoutSeconds ?? 30}`,
      `LogFile "${logPath}"`,
      "LogLevel Connect",
      "MaxClients 64",
      "Allow 127.0.0.1",
      "DisableViaHeader Yes",
      ...options.connectPorts.map((p) => `ConnectPort ${p}`),
      ...(options.credentials ? [`BasicAuth ${options.credentials.username} ${options.credentials.password}`] : []),
    ];
    const configPath = join(dir, "tinyproxy.conf");
    await writeFile(configPath, `${config.join("\n")}\n`);
    const child: ChildProcess = spawn("tinyproxy", ["-d", "-c", configPath], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    let exited = false;
    child.once("exit", () => (exited = true));
    const failed = new Promise<Error>((resolve) => child.once("error", resolve));
    let spawnError: Error | undefined;
    void failed.then((error) => (spawnError = error));
    const deadline = Date.now() + 10_000;
    while (!exited && !spawnError && Date.now() < deadline && !(await listening(port))) await new Promise((r) => setTimeout(r, 25));
    if (spawnError) throw new Error(`could not run tinyproxy (is the Debian package installed?): ${spawnError.message}`);
    if (exited) {
      if (/address already in use|could not bind|Unable to bind/i.test(stderr + (await readFile(logPath, "utf8").catch(() => "")))) continue;
      throw new Error(`tinyproxy exited during start-up: ${stderr.slice(-2000)}`);
    }
    if (Date.now() >= deadline) {
      child.kill("SIGKILL");
      throw new Error(`tinyproxy did not listen on ${port}: ${stderr.slice(-2000)}`);
    }
    const log = () => readFile(logPath, "utf8").catch(() => "");
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      log,
      async connects() {
        return [...(await log()).matchAll(/Request \(file descriptor \d+\): CONNECT (\S+) HTTP/g)].map((m) => m[1]!);
      },
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          const gone = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
          await gone;
          clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error("tinyproxy could not get a free port in 5 attempts");
}
