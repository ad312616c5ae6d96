// Probot with the digesta app loaded, the stateful GitHub fake behind nock, and a real registry on loopback.
import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { Probot, ProbotOctokit } from "probot";
import { createDigesta, type DigestaAppOptions, type DigestaController } from "../../src/app/app.js";
import { createSessionFactory } from "../../src/app/registry-setup.js";
import { createMemoryQueue } from "../../src/queue/memory.js";
import { GitHubFake, type Permissions } from "../support/github-fake.js";
import { directory, file, pushBuild, type PushedBuild } from "../support/images.js";
import { apkInstalled, type TestPackage } from "../support/package-dbs.js";
import type { TestRegistry } from "../support/registry-server.js";

export const INSTALLATION = 42;
export const OWNER = "octo-org";
export const SWEEP_SECRET = "sweep-secret-for-tests";
/** A loopback port where no registry listens. */
export const DOWN_REGISTRY = "127.0.0.1:9";

/** Build `generation` of `repository:tag`, an image whose apk database lists `packages`, so diffs have something to say. */
export function pushApkBuild(reg: TestRegistry, repository: string, tag: string, generation: number, packages: TestPackage[]): Promise<PushedBuild> {
  return pushBuild(reg, repository, tag, {
    generation,
    files: () => [directory("lib"), directory("lib/apk"), directory("lib/apk/db"), file("lib/apk/db/installed", apkInstalled(packages))],
  });
}

// One RSA key for every test: generating one costs more than a test.
const PRIVATE_KEY = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;

export interface Harness {
  readonly fake: GitHubFake;
  readonly probot: Probot;
  readonly digesta: DigestaController;
  /** Every log line written so far, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Delivers a webhook the way GitHub would (through Probot's `receive`), then waits for every run to end. */
  receive(event: { id: string; name: string; payload: unknown }): Promise<void>;
  /** The app's HTTP handlers (the sweep endpoint) on a loopback server. */
  serve(): Promise<string>;
  close(): Promise<void>;
}

export async function startApp(
  registry: TestRegistry,
  options: Partial<DigestaAppOptions> & { allowHosts?: string[]; permissions?: Permissions; fake?: GitHubFake } = {},
): Promise<Harness> {
  // Another app's fake (a second process of a fleet, sharing GitHub), or a fresh one.
  const shared = options.fake;
  const fake = shared ?? new GitHubFake();
  if (!shared) {
    fake.install();
    fake.addInstallation(INSTALLATION, OWNER, options.permissions);
  }
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const log = pino({ level: "debug" }, sink);
  const probot = new Probot({
    appId: 1,
    privateKey: PRIVATE_KEY,
    secret: "webhook-secret",
    log,
    // Probot passes its own throttle options to every client; switch them off over it (writes would wait 1 s each).
    Octokit: ProbotOctokit.defaults((options: Record<string, unknown>) => ({
      ...options,
      retry: { enabled: false },
      throttle: { ...(options["throttle"] as object), enabled: false },
    })),
  });
  const digesta = createDigesta({
    // As an operator would: the test registry (and a port where nothing listens) allowed by name.
    createSession: createSessionFactory({
      allowPrivateRegistries: options.allowHosts ?? [registry.host, DOWN_REGISTRY],
      retries: 1,
      backoff: { baseMs: 1, maxMs: 5 },
    }),
    sweepSecret: SWEEP_SECRET,
    schedulerIntervalMs: false,
    // Retries as in production, without the production wait.
    queue: createMemoryQueue({ retry: { attempts: 2, backoffMs: 1 } }),
    ...options,
  });
  const handlers: ((req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => unknown)[] = [];
  await probot.load(digesta.app, { cwd: process.cwd(), addHandler: (handler) => handlers.push(handler) });
  let server: Server | undefined;

  return {
    fake,
    probot,
    digesta,
    logs,
    async receive(event) {
      await probot.receive(event as Parameters<Probot["receive"]>[0]);
      await digesta.idle();
    },
    async serve() {
      server = createServer(async (req, res) => {
        for (const handler of handlers) if (await handler(req, res)) return;
        res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    async close() {
      digesta.stop();
      await digesta.idle();
      if (server) await new Promise((resolve) => server!.close(resolve));
      if (!shared) fake.uninstall();
    },
  };
}
