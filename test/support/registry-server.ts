// A real registry for integration tests: Debian's `docker-registry` (distribution 2.8) on a loopback port,
// storage in a fresh temp dir, with no auth, htpasswd Basic auth or token auth (see token-server.ts).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants, rmSync } from "node:fs";
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Agent, fetch as undiciFetch } from "undici";
import { startTokenServer, type Credentials, type TokenServer } from "./token-server.js";
import { freePort } from "./free-port.js";

const run = promisify(execFile);

export type { Credentials } from "./token-server.js";
export type RegistryAuth = "none" | "htpasswd" | "token";

export interface RegistryOptions {
  readonly auth?: RegistryAuth;
  /** Accounts for htpasswd or token auth; the first is the one `fetch` and `dockerConfigDir` use. Default: one random account. */
  readonly users?: readonly Credentials[];
  /** Token auth only. */
  readonly token?: {
    /** Whether requests without credentials may pull. Default false. */
    readonly anonymousPull?: boolean;
    /** Default 300 s. */
    readonly lifetimeSeconds?: number;
  };
  /** The loopback address it listens on; 127.0.0.2 makes a second origin beside one on 127.0.0.1 (a mirror). Default 127.0.0.1. */
  readonly address?: "127.0.0.1" | "127.0.0.2";
  /** Push notifications (`notifications.endpoints`): where to send them (given the registry's host), and the Authorization header. */
  readonly notify?: { readonly url: (host: string) => string; readonly authorization?: string };
  /** Keep the registry's own access log (one line per request it served), read with `accessLog()`. Default off. */
  readonly accessLog?: boolean;
  /**
   * Serve HTTPS with a certificate for 127.0.0.1, 127.0.0.2 and localhost, signed by a CA made for this registry alone
   * (`caFile`: what a user gives Node in NODE_EXTRA_CA_CERTS). Default plain HTTP.
   */
  readonly tls?: boolean;
}

/** One request the registry served, from its access log. */
export interface AccessLogEntry {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, as it appears in image references. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`, or `https://` with `tls`. */
  readonly url: string;
  /** With `tls`: the PEM file of the CA that signed the registry's certificate. */
  readonly caFile?: string;
  readonly auth: RegistryAuth;
  /** The account `fetch` uses (absent when auth is none). */
  readonly username?: string;
  readonly password?: string;
  /** The token server (token auth only): its `requests` count what clients asked for. */
  readonly tokenServer?: TokenServer;
  /** Writes a Docker `config.json` with `auths` for this host into a fresh temp dir; point DOCKER_CONFIG at it. */
  dockerConfigDir(credentials?: Credentials): Promise<string>;
  /** Raw HTTP against the registry (`path` starts with `/v2/`), authorised as the first user; for pushing fixtures. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** What the registry has written to stderr so far (log level error). */
  logs(): string;
  /** The requests the registry served so far, in order, from its access log (`accessLog: true` only). */
  accessLog(): AccessLogEntry[];
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const START_ATTEMPTS = 5;

/** RAM-backed /dev/shm where there is one: the registry's uploads commit several files each, and disks are slower. */
async function scratchRoot(): Promise<string> {
  try {
    await access("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}


async function htpasswdFile(users: readonly Credentials[]): Promise<string> {
  const lines = await Promise.all(
    users.map(async ({ username, password }) => (await run("htpasswd", ["-Bbn", username, password])).stdout.trim()),
  );
  return `${lines.join("\n")}\n`;
}

function configYaml(options: {
  address: string;
  port: number;
  storage: string;
  instance: string;
  auth: RegistryAuth;
  htpasswdPath: string;
  token?: TokenServer;
  notify?: { url: string; authorization?: string };
  accessLog?: boolean;
  tls?: TlsFiles;
}): string {
  const lines = [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    `    disabled: ${options.accessLog ? "false" : "true"}`,
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(options.storage)}`,
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: ${options.address}:${options.port}`,
    `  secret: ${randomBytes(16).toString("hex")}`,
    ...(options.tls ? ["  tls:", `    certificate: ${JSON.stringify(options.tls.certificate)}`, `    key: ${JSON.stringify(options.tls.key)}`] : []),
    "  headers:",
    // Lets readiness checks tell our registry from whatever else may have grabbed the port.
    `    X-Digesta-Test-Instance: [${options.instance}]`,
  ];
  if (options.auth === "htpasswd") {
    lines.push("auth:", "  htpasswd:", "    realm: digesta-test", `    path: ${JSON.stringify(options.htpasswdPath)}`);
  } else if (options.auth === "token" && options.token) {
    lines.push(
      "auth:",
      "  token:",
      `    realm: ${JSON.stringify(options.token.realm)}`,
      `    service: ${JSON.stringify(options.token.service)}`,
      `    issuer: ${JSON.stringify(options.token.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(options.token.rootCertBundle)}`,
    );
  }
  if (options.notify) {
    lines.push(
      "notifications:",
      "  endpoints:",
      "    - name: digesta",
      `      url: ${JSON.stringify(options.notify.url)}`,
      ...(options.notify.authorization ? ["      headers:", `        Authorization: [${JSON.stringify(options.notify.authorization)}]`] : []),
      "      timeout: 2s",
      "      threshold: 3",
      "      backoff: 500ms",
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Fetch, through an undici Agent that trusts the test CA when the registry serves TLS. */
function trusting(dispatcher: Agent | undefined): typeof fetch {
  if (!dispatcher) return fetch;
  return ((input: string | URL, init: RequestInit = {}) => undiciFetch(input, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}

interface TlsFiles {
  readonly ca: string;
  readonly certificate: string;
  readonly key: string;
}

/** A CA of its own and a server certificate it signed for the loopback names, made with openssl in `dir`. */
async function makeCertificates(dir: string): Promise<TlsFiles> {
  const file = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", ["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=digesta test CA", "-keyout", file("ca.key"), "-out", file("ca.pem")]);
  await run("openssl", ["req", ...ec, "-subj", "/CN=digesta test registry", "-keyout", file("server.key"), "-out", file("server.csr")]);
  await writeFile(file("server.ext"), "subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  await run("openssl", [
    "x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"),
    "-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", "2", "-extfile", file("server.ext"), "-out", file("server.pem"),
  ]);
  return { ca: file("ca.pem"), certificate: file("server.pem"), key: file("server.key") };
}

const running = new Set<ChildProcess>();
const scratchDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test worker that exits without stopping its registries must not leave processes or RAM-backed dirs behind.
  process.once("exit", () => {
    for (const c of running) c.kill("SIGKILL");
    for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
  });
}
function track(child: ChildProcess): void {
  installExitHook();
  running.add(child);
  child.once("exit", () => running.delete(child));
}

interface Spawned {
  readonly child: ChildProcess;
  readonly stderr: () => string;
  /** Standard output, where the access log goes. */
  readonly stdout: () => string;
}

/** Starts the server and waits until it answers `/v2/` as this instance; `undefined` when the port was taken. */
async function spawnRegistry(configPath: string, url: string, instance: string, dispatcher?: Agent): Promise<Spawned | undefined> {
  const child = spawn("docker-registry", ["serve", configPath], { stdio: ["ignore", "pipe", "pipe"] });
  track(child);
  let stdout = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    if (stderr.length < 1_000_000) stderr += chunk;
  });
  let exited = false;
  child.once("exit", () => (exited = true));
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  let failure: Error | undefined;
  void spawnError.then((e) => (failure = e));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (failure) throw new Error(`could not run docker-registry (is the Debian package installed?): ${failure.message}`);
    if (exited) {
      if (/address already in use/i.test(stderr)) return undefined;
      throw new Error(`docker-registry exited during start-up: ${stderr.trim().slice(-2000)}`);
    }
    try {
      const response = await trusting(dispatcher)(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.headers.get("x-digesta-test-instance") === instance) return { child, stderr: () => stderr, stdout: () => stdout };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill("SIGKILL");
  throw new Error(`docker-registry did not answer ${url}/v2/ within ${READY_TIMEOUT_MS} ms: ${stderr.trim().slice(-2000)}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

/** Parses `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  const pattern = /([A-Za-z_]+)="([^"]*)"/g;
  for (const match of header.slice(space + 1).matchAll(pattern)) params[match[1]!.toLowerCase()] = match[2]!;
  return { scheme, params };
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const auth = options.auth ?? "none";
  const address = options.address ?? "127.0.0.1";
  const users: readonly Credentials[] =
    auth === "none" ? [] : options.users?.length ? options.users : [{ username: "tester", password: randomBytes(12).toString("hex") }];
  const user = users[0];
  const dir = await mkdtemp(join(await scratchRoot(), "digesta-registry-"));
  installExitHook();
  scratchDirs.add(dir);
  const cleanups: (() => Promise<void>)[] = [
    async () => {
      await rm(dir, { recursive: true, force: true });
      scratchDirs.delete(dir);
    },
  ];
  let tokenServer: TokenServer | undefined;
  let spawned: Spawned | undefined;
  let port = 0;
  let tls: TlsFiles | undefined;
  let dispatcher: Agent | undefined;

  try {
    const storage = join(dir, "storage");
    await mkdir(storage);
    const htpasswdPath = join(dir, "htpasswd");
    if (auth === "htpasswd") await writeFile(htpasswdPath, await htpasswdFile(users));
    if (auth === "token") {
      tokenServer = await startTokenServer({
        users,
        anonymousPull: options.token?.anonymousPull,
        lifetimeSeconds: options.token?.lifetimeSeconds,
      });
      const server = tokenServer;
      cleanups.unshift(() => server.stop());
    }
    if (options.tls) {
      tls = await makeCertificates(dir);
      const agent = new Agent({ connect: { ca: await readFile(tls.ca, "utf8") } });
      dispatcher = agent;
      cleanups.push(() => agent.close());
    }
    const instance = randomBytes(8).toString("hex");
    for (let attempt = 1; !spawned; attempt++) {
      if (attempt > START_ATTEMPTS) throw new Error(`docker-registry found no free loopback port in ${START_ATTEMPTS} attempts`);
      port = await freePort(address);
      const configPath = join(dir, "config.yml");
      const notify = options.notify
        ? { url: options.notify.url(`${address}:${port}`), ...(options.notify.authorization ? { authorization: options.notify.authorization } : {}) }
        : undefined;
      await writeFile(
        configPath,
        configYaml({
          address, port, storage, instance, auth, htpasswdPath, token: tokenServer,
          ...(notify ? { notify } : {}), accessLog: options.accessLog ?? false, ...(tls ? { tls } : {}),
        }),
      );
      spawned = await spawnRegistry(configPath, `${tls ? "https" : "http"}://${address}:${port}`, instance, dispatcher);
    }
  } catch (error) {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    throw error;
  }

  const { child, stderr, stdout } = spawned;
  const host = `${address}:${port}`;
  const url = `${tls ? "https" : "http"}://${host}`;
  // The harness's own requests trust the registry's CA; the code under test is given it as a user would.
  const fetchHere = trusting(dispatcher);
  const basic = user ? `Basic ${Buffer.from(`${user.username}:${user.password}`).toString("base64")}` : undefined;
  // The harness asks for push and pull on the repository a path names, once per repository, and again
  // only when the registry refuses the cached token (it expired).
  const tokens = new Map<string, string>();

  async function fetchToken(challenge: string, scope: string | undefined): Promise<string | undefined> {
    const { scheme, params } = parseChallenge(challenge);
    if (scheme !== "bearer" || !params.realm) return undefined;
    const query = new URLSearchParams();
    if (params.service) query.set("service", params.service);
    const wanted = scope ?? params.scope;
    if (wanted) query.set("scope", wanted);
    const response = await fetch(`${params.realm}?${query}`, { headers: basic ? { authorization: basic } : {} });
    if (!response.ok) throw new Error(`test token server refused the harness's account: HTTP ${response.status}`);
    const body = (await response.json()) as { token?: string };
    if (!body.token) throw new Error("test token server answered without a token");
    return body.token;
  }

  async function registryFetch(path: string, init: RequestInit = {}): Promise<Response> {
    const target = new URL(path, url);
    if (target.host !== host) throw new Error(`TestRegistry.fetch only talks to ${host}, not ${target.host}`);
    const headers = new Headers(init.headers);
    if (auth === "htpasswd" && basic) headers.set("authorization", basic);
    const repository = /^\/v2\/(.+?)\/(?:manifests|blobs|tags|referrers)\//.exec(target.pathname)?.[1];
    const scope = repository ? `repository:${repository}:pull,push` : undefined;
    const key = scope ?? "";
    const cached = auth === "token" ? tokens.get(key) : undefined;
    if (cached) headers.set("authorization", `Bearer ${cached}`);
    let response = await fetchHere(target, { ...init, headers });
    if (response.status === 401 && auth === "token") {
      const bearer = await fetchToken(response.headers.get("www-authenticate") ?? "", scope);
      if (bearer) {
        await response.arrayBuffer();
        tokens.set(key, bearer);
        headers.set("authorization", `Bearer ${bearer}`);
        response = await fetchHere(target, { ...init, headers });
      }
    }
    return response;
  }

  let stopped: Promise<void> | undefined;
  return {
    host,
    url,
    ...(tls ? { caFile: tls.ca } : {}),
    auth,
    username: user?.username,
    password: user?.password,
    tokenServer,
    async dockerConfigDir(credentials = user) {
      const configDir = await mkdtemp(join(dir, "docker-config-"));
      const auths = credentials
        ? { [host]: { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64") } }
        : {};
      await writeFile(join(configDir, "config.json"), JSON.stringify({ auths }, null, 2), { mode: 0o600 });
      return configDir;
    },
    fetch: registryFetch,
    logs: stderr,
    accessLog: () => parseAccessLog(stdout()),
    stop() {
      stopped ??= (async () => {
        await stopChild(child);
        for (const cleanup of cleanups) await cleanup().catch(() => undefined);
      })();
      return stopped;
    },
  };
}

/** Combined Log Format lines (`… "GET /v2/x/manifests/1 HTTP/1.1" 200 …`) as requests; other lines are skipped. */
function parseAccessLog(text: string): AccessLogEntry[] {
  const entries: AccessLogEntry[] = [];
  for (const match of text.matchAll(/"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) /g)) {
    entries.push({ method: match[1]!, path: new URL(match[2]!, "http://registry.test").pathname, status: Number(match[3]) });
  }
  return entries;
}
