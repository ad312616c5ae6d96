// App benchmark: GitHub requests per pull request and the wall time of a sweep, whole processes as a user runs them,
// against the stateful GitHub fake served on loopback (test/support/github-fake.ts) and a real registry.
//  (a) `digesta github --repo OWNER/NAME` (the one-shot run, a plain token): requests and writes per pull request
//      opened, opened with labels and reviewers configured, updated (a tag moved again), and a run with nothing new.
//  (b) the app server (`node dist/app/server.js`, Probot with its default throttling) sweeping REPOS repositories
//      with stale pins (`POST /digesta/sweep?force=true`), then sweeping again after the tags moved: wall time until
//      the last pull request is opened (updated), requests per pull request, and the server's peak RSS (VmHWM).
// Requests are counted at the fake (installation tokens not counted as writes). Octokit's throttling spaces writes
// one second apart per installation, so the sweep's wall time is bounded by writes × 1 s ÷ installations running at
// once. Run alone: node --import tsx bench/app.ts [REPOS] [INSTALLATIONS] (after `npm run build`).
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg } from "node:os";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { pathToFileURL } from "node:url";
import { GitHubFake, type RecordedRequest } from "../test/support/github-fake.js";
import { pushBuild, type PushedBuild } from "../test/support/images.js";
import { startRegistry, type TestRegistry } from "../test/support/registry-server.js";
import { digesta, machineLine, ROOT, runProcessAsync } from "./process.js";

const OWNER = "bench-org";
const TOKEN = "ghs_bench_token";
const SWEEP_SECRET = "bench-sweep-secret";

interface Images {
  readonly web: { v1: PushedBuild; v2: PushedBuild };
  readonly worker: { v1: PushedBuild; v2: PushedBuild };
}

/** Three files, four stale pins of two images: a small service repository. */
function staleFiles(reg: TestRegistry, images: Images, config?: string): Record<string, string> {
  const web = `${reg.host}/bench/web:1@${images.web.v1.digest}`;
  const worker = `${reg.host}/bench/worker:stable@${images.worker.v1.digest}`;
  return {
    "Dockerfile": `FROM ${web}\nRUN true\n`,
    "deploy/app.yaml": `containers:\n  - image: ${web}\n  - image: ${worker}\n`,
    "deploy/jobs.yaml": `image: ${worker}\n`,
    "README.md": "# service\n",
    ...(config ? { ".github/digesta.yml": config } : {}),
  };
}

interface Counted {
  readonly requests: number;
  readonly writes: number;
  readonly writeList: readonly string[];
}

/**
 * Requests of runs over `repositories` among `requests`, per repository: every request but the app's own (its
 * installation tokens, the listing of installations and their repositories), which are per sweep, not per pull request.
 */
function perRepository(requests: readonly RecordedRequest[], repositories: number): Counted {
  const runs = requests.filter((r) => !r.path.startsWith("/app/") && r.path !== "/app" && !r.path.startsWith("/installation/"));
  const writes = runs.filter((r) => r.method !== "GET" && r.method !== "HEAD");
  return {
    requests: runs.length / repositories,
    writes: writes.length / repositories,
    writeList: writes.map((r) => `${r.method} ${decodeURIComponent(r.path).replace(/^\/repos\/[^/]+\/[^/]+/, "")}`),
  };
}

const baseEnv = (reg: TestRegistry): NodeJS.ProcessEnv => ({
  PATH: process.env["PATH"],
  HOME: process.env["HOME"],
  DIGESTA_ALLOW_PRIVATE_REGISTRIES: reg.host,
  DIGESTA_OSV_URL: "off",
  LOG_LEVEL: "warn",
});

async function oneShot(reg: TestRegistry, fake: GitHubFake, api: string, repo: string): Promise<Counted & { wallMs: number }> {
  const from = fake.requests.length;
  const run = await runProcessAsync({
    ...digesta(`digesta github ${repo}`, "github", "--repo", `${OWNER}/${repo}`, "--api-url", api),
    env: { ...baseEnv(reg), GITHUB_TOKEN: TOKEN },
  });
  return { ...perRepository(fake.requests.slice(from), 1), wallMs: run.wallMs };
}

async function benchOneShot(reg: TestRegistry, images: Images): Promise<void> {
  const fake = new GitHubFake();
  fake.addToken(TOKEN);
  const api = await fake.listen();
  try {
    fake.createRepository(OWNER, "plain", staleFiles(reg, images), { installationId: 1 });
    fake.createRepository(OWNER, "decorated", staleFiles(reg, images, "labels: [dependencies]\nreviewers: [alice, bench-org/platform]\n"), { installationId: 1 });
    const rows: [string, Counted & { wallMs: number }][] = [];
    rows.push(["opened", await oneShot(reg, fake, api.url, "plain")]);
    rows.push(["opened, labels + reviewers", await oneShot(reg, fake, api.url, "decorated")]);
    rows.push(["nothing new", await oneShot(reg, fake, api.url, "plain")]);
    const v3 = await pushBuild(reg, "bench/worker", "stable", { generation: 3 });
    try {
      rows.push(["updated (a tag moved)", await oneShot(reg, fake, api.url, "plain")]);
      rows.push(["updated, labels + reviewers", await oneShot(reg, fake, api.url, "decorated")]);
    } finally {
      await pushBuild(reg, "bench/worker", "stable", { generation: 2 });
    }
    if (!fake.files(OWNER, "plain", "digesta/update-digests")["deploy/jobs.yaml"]!.includes(v3.digest)) throw new Error("the update run did not move the pin");
    console.log("  `digesta github` (one process per run, plain token), per pull request:");
    for (const [label, counted] of rows) {
      console.log(`    ${label.padEnd(30)} ${String(counted.writes).padStart(2)} writes, ${String(counted.requests).padStart(2)} requests, ${(counted.wallMs / 1000).toFixed(2)} s  [${counted.writeList.join(", ")}]`);
    }
  } finally {
    await api.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function vmHwmKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

function cpuMs(pid: number): number {
  // utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks (100 a second on Linux).
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface SweepFigures {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly perPull: { readonly requests: number; readonly writes: number };
  readonly load: string;
}

async function benchSweep(reg: TestRegistry, images: Images, repositories: number, installations: number): Promise<void> {
  const fake = new GitHubFake();
  const api = await fake.listen();
  const port = await freePort();
  const names: string[] = [];
  for (let i = 0; i < installations; i++) fake.addInstallation(100 + i, `${OWNER}`);
  for (let r = 0; r < repositories; r++) {
    const name = `service-${String(r).padStart(3, "0")}`;
    names.push(name);
    fake.createRepository(OWNER, name, staleFiles(reg, images), { installationId: 100 + (r % installations) });
  }
  const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } }).privateKey;
  const server: ChildProcess = spawn(process.execPath, [path.join(ROOT, "dist", "app", "server.js")], {
    env: {
      ...baseEnv(reg),
      NODE_ENV: "production",
      APP_ID: "1",
      PRIVATE_KEY: privateKey,
      WEBHOOK_SECRET: "bench-webhook-secret",
      GHE_HOST: api.url.replace(/^http:\/\//, ""),
      GHE_PROTOCOL: "http",
      HOST: "127.0.0.1",
      PORT: String(port),
      DIGESTA_SWEEP_SECRET: SWEEP_SECRET,
      DIGESTA_SCHEDULER: "off",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  server.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const app = `http://127.0.0.1:${port}`;
  try {
    await waitFor(() => fetch(`${app}/ping`).then((r) => r.ok, () => false), 30_000, "the app server to start");
    const sweep = async (done: () => boolean): Promise<SweepFigures> => {
      const from = fake.requests.length;
      const cpuBefore = cpuMs(server.pid!);
      const started = Date.now();
      const answer = await fetch(`${app}/digesta/sweep?force=true`, { method: "POST", headers: { authorization: `Bearer ${SWEEP_SECRET}` } });
      if (answer.status !== 202) throw new Error(`sweep answered ${answer.status}`);
      await waitFor(done, 3_600_000, "the sweep's pull requests");
      const wallMs = Date.now() - started;
      const counted = perRepository(fake.requests.slice(from), repositories);
      if (process.env["BENCH_APP_TRACE"]) {
        for (const r of fake.requests.slice(from)) console.log(`    ${((r.at - started) / 1000).toFixed(2).padStart(7)} ${r.method} ${decodeURIComponent(r.path)}`);
      }
      return {
        wallMs,
        cpuMs: cpuMs(server.pid!) - cpuBefore,
        perPull: { requests: counted.requests, writes: counted.writes },
        load: `load ${loadavg().map((x) => x.toFixed(2)).join(" ")} at the end`,
      };
    };
    const opened = await sweep(() => names.every((name) => fake.openPulls(OWNER, name).length === 1));
    const v3 = await pushBuild(reg, "bench/worker", "stable", { generation: 3 });
    let updated: SweepFigures;
    try {
      updated = await sweep(() => names.every((name) => fake.openPulls(OWNER, name)[0]?.body.includes(v3.digest)));
    } finally {
      await pushBuild(reg, "bench/worker", "stable", { generation: 2 });
    }
    const peak = vmHwmKiB(server.pid!);
    const line = (label: string, f: SweepFigures) =>
      `    ${label.padEnd(8)} ${(f.wallMs / 1000).toFixed(1)} s wall (${(f.wallMs / repositories / 1000).toFixed(2)} s per repository), server CPU ${(f.cpuMs / 1000).toFixed(1)} s; per pull request ${f.perPull.writes.toFixed(1)} writes, ${f.perPull.requests.toFixed(1)} requests; ${f.load}`;
    console.log(`  app server sweep: ${repositories} repositories with stale pins, ${installations} installation(s), concurrency 4 (default), Octokit throttling on (default):`);
    console.log(line("opened", opened));
    console.log(line("updated", updated));
    console.log(`    server peak RSS ${(peak / 1024).toFixed(0)} MiB`);
    // Two bounds: each installation's writes go one a second, all its repositories' in one queue; and each run's
    // own writes are a second apart (the first at once), four runs at a time.
    const floor = (writes: number) => Math.max((writes * repositories) / installations, ((writes - 1) * repositories) / 4);
    console.log(
      `    floor from throttling (one write a second per installation; a run's own writes a second apart, 4 runs at once): opened ${floor(opened.perPull.writes).toFixed(0)} s, updated ${floor(updated.perPull.writes).toFixed(0)} s`,
    );
  } catch (error) {
    console.error(stderr.split("\n").slice(-10).join("\n"));
    throw error;
  } finally {
    server.kill("SIGTERM");
    await new Promise((resolve) => server.once("exit", resolve));
    await api.close();
  }
}

export async function benchApp(repositories = Number(process.env["BENCH_APP_REPOS"] ?? 100), installations = Number(process.env["BENCH_APP_INSTALLATIONS"] ?? 1)): Promise<void> {
  const reg = await startRegistry();
  try {
    const images: Images = {
      web: { v1: await pushBuild(reg, "bench/web", "1", { generation: 1 }), v2: await pushBuild(reg, "bench/web", "1", { generation: 2 }) },
      worker: { v1: await pushBuild(reg, "bench/worker", "stable", { generation: 1 }), v2: await pushBuild(reg, "bench/worker", "stable", { generation: 2 }) },
    };
    await benchOneShot(reg, images);
    await benchSweep(reg, images, repositories, installations);
  } finally {
    await reg.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(machineLine());
  const [repositories, installations] = process.argv.slice(2).map(Number);
  await benchApp(repositories || undefined, installations || undefined);
}
