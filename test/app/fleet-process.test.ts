// The fleet end to end, with real processes: two app servers started as an operator starts them (the server entry,
// REDIS_URL, GitHub's API at the fake served over HTTP, an App private key and webhook secret), a real redis-server,
// the real registry with images pushed here, and an installation of 20 repositories with stale pins. One server is
// killed with SIGKILL while it holds a job, in the middle of publishing (its request to open a pull request reaches
// GitHub, the answer never reaches it). What is asserted comes from GitHub's state (the fake) and the registry's own
// access log, never from the processes' word.
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisQueue } from "../../src/queue/redis.js";
import type { JobQueue } from "../../src/queue/types.js";
import { appServerEnv, freePort, waitForPing } from "../support/app-server.js";
import { GitHubFake } from "../support/github-fake.js";
import { pushBuild, type PushedBuild } from "../support/images.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { pushApkBuild } from "./harness.js";

const OWNER = "octo-org";
const INSTALLATION = 77;
const WEBHOOK_SECRET = "fleet-webhook-secret-5d1e";
const SWEEP_SECRET = "fleet-sweep-secret-90ab";
const PRIVATE_KEY = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;
const REPOSITORIES = Array.from({ length: 20 }, (_, i) => `service-${String(i).padStart(2, "0")}`);
/** How long a killed process's hold on its jobs lasts: the operator's setting, short so the test does not wait long. */
const JOB_LOCK_MS = 2000;

/** One app server process and what it printed (JSON log lines). */
interface AppProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  /** The fake's listener this process reaches GitHub through. */
  readonly github: string;
  readonly logs: Record<string, unknown>[];
  readonly exited: Promise<void>;
}

/** Polls `condition` until it holds; the message says what never happened. */
async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 90_000, explain?: () => unknown): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${explain ? `: ${JSON.stringify(await explain())}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a fleet of two app processes on Redis", () => {
  let reg: TestRegistry;
  let redis: TestRedis;
  const fake = new GitHubFake();
  const listeners: { url: string; close(): Promise<void> }[] = [];
  const processes: AppProcess[] = [];
  let queue: JobQueue | undefined;
  let web: { v1: PushedBuild; v2: PushedBuild; v3?: PushedBuild };
  let worker: { v1: PushedBuild; v2: PushedBuild; v3?: PushedBuild };
  let base: { v1: PushedBuild; v2: PushedBuild; v3?: PushedBuild };
  const prefix = `fleet-e2e-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    [reg, redis] = await Promise.all([startRegistry({ accessLog: true }), startRedis()]);
    web = {
      v1: await pushApkBuild(reg, "team/web", "1", 1, [{ name: "busybox", version: "1.36.1-r0" }]),
      v2: await pushApkBuild(reg, "team/web", "1", 2, [{ name: "busybox", version: "1.36.1-r5" }]),
    };
    worker = { v1: await pushBuild(reg, "team/worker", "stable", { generation: 1 }), v2: await pushBuild(reg, "team/worker", "stable", { generation: 2 }) };
    base = { v1: await pushBuild(reg, "team/base", "3.20", { generation: 1 }), v2: await pushBuild(reg, "team/base", "3.20", { generation: 2 }) };
    fake.addInstallation(INSTALLATION, OWNER);
    for (const [i, name] of REPOSITORIES.entries()) {
      fake.createRepository(
        OWNER,
        name,
        {
          "Dockerfile": `FROM ${pin("team/base", "3.20", base.v1.digest)} AS build\nFROM ${pin("team/web", "1", web.v1.digest)}\n`,
          "deploy/app.yaml": `containers:\n  - image: ${pin("team/web", "1", web.v1.digest)}\n  - image: ${pin("team/worker", "stable", worker.v1.digest)}\n`,
          ...(i % 3 === 0 ? { "scripts/run.sh": `#!/bin/sh\nexec docker run ${pin("team/worker", "stable", worker.v1.digest)} "$@"\n` } : {}),
          "README.md": `# ${name}\n`,
        },
        { installationId: INSTALLATION, executable: ["scripts/run.sh"] },
      );
    }
    queue = createRedisQueue({ url: redis.url, prefix });
  }, 120_000);

  afterAll(async () => {
    for (const app of processes) if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill("SIGKILL");
    await Promise.all(processes.map((app) => app.exited));
    await queue?.close({ graceMs: 1000 });
    await Promise.all(listeners.map((listener) => listener.close()));
    await Promise.all([reg?.stop(), redis?.stop()]);
  });

  const pin = (repository: string, tag: string, digest: string) => `${reg.host}/${repository}:${tag}@${digest}`;

  /** Starts `src/app/server.ts` as its own process, reaching GitHub through a listener of its own. */
  async function startAppProcess(name: string): Promise<AppProcess> {
    const github = await fake.listen();
    listeners.push(github);
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", "src/app/server.ts"], {
      env: appServerEnv({
        port,
        privateKey: PRIVATE_KEY,
        webhookSecret: WEBHOOK_SECRET,
        github: github.url,
        redisUrl: redis.url,
        redisPrefix: prefix,
        sweepSecret: SWEEP_SECRET,
        registryHost: reg.host,
        extra: { DIGESTA_CONCURRENCY: "3", DIGESTA_JOB_LOCK_MS: String(JOB_LOCK_MS) },
      }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const logs: Record<string, unknown>[] = [];
    let rest = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logs.push({ msg: line });
        }
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const app: AppProcess = { name, child, url: `http://127.0.0.1:${port}`, github: github.url, logs, exited };
    processes.push(app);
    await waitForPing(app.url, () => (child.exitCode !== null ? `${name} exited with ${child.exitCode}: ${stderr.slice(-2000)}` : undefined));
    return app;
  }

  /** Delivers a webhook to one process as GitHub does: signed with the webhook secret. */
  async function deliver(app: AppProcess, event: string, payload: unknown): Promise<number> {
    const body = JSON.stringify(payload);
    const response = await fetch(`${app.url}/api/github/webhooks`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`,
      },
      body,
    });
    await response.arrayBuffer();
    return response.status;
  }

  /**
   * The tags the registry was asked about, from its own access log: reads of manifests by tag, not by digest, and not
   * the `sha256-…` tags where signatures and attestations are looked for.
   */
  const tagRequests = () =>
    reg
      .accessLog()
      .filter((entry) => (entry.method === "GET" || entry.method === "HEAD") && /^\/v2\/.+\/manifests\/(?!sha256[:-])[^/]+$/.test(entry.path))
      .map((entry) => entry.path);

  const started = (app: AppProcess, repo: string) =>
    app.logs.filter((line) => line["msg"] === "refresh started" && line["repository"] === `${OWNER}/${repo}`).length;

  /** Every repository has its one pull request, carrying `digests` (and none of `stale`), and the queue is empty. */
  function settled(digests: readonly string[], stale: readonly string[]): () => Promise<boolean> {
    return async () => {
      for (const name of REPOSITORIES) {
        const pulls = fake.pulls(OWNER, name);
        if (pulls.length === 0) return false;
        const text = Object.values(fake.files(OWNER, name, pulls[0]!.head)).join("\n");
        if (!digests.every((digest) => text.includes(digest)) || stale.some((digest) => text.includes(digest))) return false;
      }
      const depth = await queue!.depth();
      return depth.waiting + depth.active + depth.delayed === 0;
    };
  }

  /** What is going on, for a test that timed out. */
  const state = async () => ({
    queue: await queue!.depth(),
    pulls: Object.fromEntries(REPOSITORIES.map((name) => [name, fake.pulls(OWNER, name).length])),
    warnings: processes.map((app) => [app.name, app.child.exitCode ?? app.child.signalCode, app.logs.slice(-12).map((l) => `${l["time"]} ${l["repository"] ?? ""} ${l["msg"]} ${l["level"]}`)]),
  });

  /** What GitHub holds for each repository: one open pull request, one commit on top of the untouched default branch. */
  function expectOnePullRequestEach(digests: readonly string[], stale: readonly string[]): void {
    for (const [i, name] of REPOSITORIES.entries()) {
      const pulls = fake.pulls(OWNER, name);
      expect(pulls.map((p) => p.state), name).toEqual(["open"]);
      const pull = pulls[0]!;
      expect(fake.branches(OWNER, name).sort(), name).toEqual([pull.head, "main"].sort());
      const commits = fake.commitsAhead(OWNER, name, pull.head);
      expect(commits, `${name}: commits on ${pull.head}`).toHaveLength(1);
      expect(commits[0]!.parents, name).toEqual([fake.branchHead(OWNER, name, "main")]);
      const files = fake.files(OWNER, name, pull.head);
      const text = Object.values(files).join("\n");
      for (const digest of digests) expect(text, name).toContain(digest);
      for (const digest of stale) expect(text, name).not.toContain(digest);
      expect(files["README.md"], name).toBe(`# ${name}\n`);
      if (i % 3 === 0) expect(fake.fileMode(OWNER, name, pull.head, "scripts/run.sh"), name).toBe("100755");
      // The default branch is as its owners left it.
      expect(fake.files(OWNER, name)["Dockerfile"], name).toContain(base.v1.digest);
    }
  }

  it("sweeps an installation of 20 repositories with a process killed mid-sweep: one pull request each, each tag resolved once per sweep", async () => {
    const [first, second] = [await startAppProcess("first"), await startAppProcess("second")];
    const held = fake.hold("POST", /^\/repos\/[^/]+\/[^/]+\/pulls$/);

    const status = await deliver(first, "installation", {
      action: "created",
      installation: { id: INSTALLATION, account: { login: OWNER } },
      repositories: REPOSITORIES.map((name, i) => ({ id: 1000 + i, name, full_name: `${OWNER}/${name}`, private: false })),
      sender: { login: "octocat" },
    });
    expect(status).toBe(200);

    // The first pull request to open is held: the process that asked for it is in the middle of a job. Kill it there,
    // then let GitHub carry the request out, as it would for a request that was on the wire.
    const request = await held;
    const victim = processes.find((app) => app.github === request.listener)!;
    const survivor = victim === first ? second : first;
    const repo = decodeURIComponent(request.path.split("/")[3]!);
    expect(started(victim, repo)).toBe(1);
    victim.child.kill("SIGKILL");
    await victim.exited;
    await request.clientGone;
    request.release();

    await until("every repository's pull request and an empty queue", settled([web.v2.digest, worker.v2.digest, base.v2.digest], [web.v1.digest, worker.v1.digest, base.v1.digest]), 180_000, state);
    expectOnePullRequestEach([web.v2.digest, worker.v2.digest, base.v2.digest], [web.v1.digest, worker.v1.digest, base.v1.digest]);
    // The killed process's job ran again on the survivor, which found the pull request GitHub had opened.
    expect(started(survivor, repo)).toBeGreaterThanOrEqual(1);
    // Each unique tag was asked of the registry once in this sweep, by whichever process came first.
    expect(tagRequests().sort()).toEqual(["/v2/team/base/manifests/3.20", "/v2/team/web/manifests/1", "/v2/team/worker/manifests/stable"]);

    // A replacement process joins, new builds are pushed, and the operator asks for a sweep: each pull request moves
    // on in place, and each tag is asked once more (once per sweep).
    const replacement = await startAppProcess("replacement");
    web.v3 = await pushApkBuild(reg, "team/web", "1", 3, [{ name: "busybox", version: "1.36.1-r7" }]);
    worker.v3 = await pushBuild(reg, "team/worker", "stable", { generation: 3 });
    base.v3 = await pushBuild(reg, "team/base", "3.20", { generation: 3 });
    const sweep = await fetch(`${replacement.url}/digesta/sweep?force=true`, { method: "POST", headers: { authorization: `Bearer ${SWEEP_SECRET}` } });
    await sweep.arrayBuffer();
    expect(sweep.status).toBe(202);
    const all = [web, worker, base];
    await until("every pull request moved to the third builds", settled(all.map((b) => b.v3!.digest), all.flatMap((b) => [b.v1.digest, b.v2.digest])), 180_000, state);
    expectOnePullRequestEach(all.map((b) => b.v3!.digest), all.flatMap((b) => [b.v1.digest, b.v2.digest]));
    const asked = tagRequests();
    for (const tag of ["/v2/team/base/manifests/3.20", "/v2/team/web/manifests/1", "/v2/team/worker/manifests/stable"]) {
      expect(asked.filter((path) => path === tag), tag).toHaveLength(2);
    }
  }, 480_000);
});
