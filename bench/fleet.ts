// `npm run bench fleet`: one forced sweep of 1,000 repositories (DIGESTA_BENCH_REPOSITORIES to change it) with 1, 2
// and 4 app processes, each the built server (`node dist/app/server.js`, as `npm start` runs it) under GNU time, on a
// real redis-server and registry, GitHub being the fake served over HTTP (a listener per process). Every repository
// pins two of ten moved tags, so each run opens one pull request per repository. Reported per fleet size: the wall
// time from the sweep request to the last pull request with the queue empty, GitHub requests and writes (the fake's
// count), registry requests (the registry's own access log), the CPU time of every process involved (the app
// processes, this one, which serves the fake, Redis and the registry) against what the machine's cores could give,
// and peak RSS. GitHub's pacing is off (DIGESTA_GITHUB_WRITE_INTERVAL_MS=0, as an Enterprise Server without rate
// limits): on github.com it bounds a fleet before anything measured here (see docs/github-app.md).
// Run alone: node --import tsx bench/fleet.ts (after npm run build).
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { createRedisQueue } from "../src/queue/redis.js";
import { appServerEnv, freePort, waitForPing } from "../test/support/app-server.js";
import { GitHubFake } from "../test/support/github-fake.js";
import { pushBuild, type PushedBuild } from "../test/support/images.js";
import { startRedis, type TestRedis } from "../test/support/redis-server.js";
import { startRegistry, type TestRegistry } from "../test/support/registry-server.js";
import { machineLine, ROOT } from "./process.js";

const REPOSITORIES = Number(process.env["DIGESTA_BENCH_REPOSITORIES"] ?? 1000);
const FLEET_SIZES = (process.env["DIGESTA_BENCH_WORKERS"] ?? "1,2,4").split(",").map(Number);
const TAGS = 10;
const OWNER = "bench-org";
const INSTALLATION = 1;
const SWEEP_SECRET = "bench-sweep-secret";
const SERVER = path.join(ROOT, "dist", "app", "server.js");
const PRIVATE_KEY = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;

interface Moved {
  readonly repository: string;
  readonly tag: string;
  readonly before: PushedBuild;
  readonly after: PushedBuild;
}

interface AppProcess {
  readonly time: ChildProcess;
  readonly report: string;
  readonly url: string;
  readonly exited: Promise<void>;
}

interface Usage {
  readonly cpuS: number;
  readonly peakRssKiB: number;
}

export interface FleetRun {
  readonly processes: number;
  readonly repositories: number;
  readonly wallS: number;
  readonly githubRequests: number;
  readonly githubWrites: number;
  readonly registryRequests: number;
  readonly tagReads: number;
  readonly uniqueTags: number;
  readonly appCpuS: number;
  readonly appPeakRssKiB: number;
  /** CPU of the helpers: this process (the GitHub fake), Redis, the registry. */
  readonly fakeCpuS: number;
  readonly redisCpuS: number;
  readonly registryCpuS: number;
  readonly load: readonly number[];
  readonly loadAfter: readonly number[];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Children of a process, from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** User + system CPU seconds of a live process, from /proc/PID/stat. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function registryPid(): number | undefined {
  return childrenOf(process.pid).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "docker-registry";
    } catch {
      return false;
    }
  });
}

async function pushTags(reg: TestRegistry): Promise<Moved[]> {
  const moved: Moved[] = [];
  for (let t = 0; t < TAGS; t++) {
    const repository = `bench/image-${t}`;
    const before = await pushBuild(reg, repository, "1", { generation: 1 });
    const after = await pushBuild(reg, repository, "1", { generation: 2 });
    moved.push({ repository, tag: "1", before, after });
  }
  return moved;
}

/** A fresh GitHub: REPOSITORIES repositories, each pinning two of the tags at their old builds. */
function seedGitHub(reg: TestRegistry, moved: readonly Moved[]): GitHubFake {
  const fake = new GitHubFake({ appSlug: "digesta-bench" });
  fake.addInstallation(INSTALLATION, OWNER);
  for (let i = 0; i < REPOSITORIES; i++) {
    const a = moved[i % TAGS]!;
    const b = moved[(i * 7 + 3) % TAGS]!;
    const pin = (m: Moved) => `${reg.host}/${m.repository}:${m.tag}@${m.before.digest}`;
    fake.createRepository(
      OWNER,
      `repo-${String(i).padStart(4, "0")}`,
      {
        "Dockerfile": `FROM ${pin(a)}\nRUN true\n`,
        "deploy/values.yaml": `image: ${pin(b)}\nreplicas: 2\n`,
        "README.md": `# repo ${i}\n`,
      },
      { installationId: INSTALLATION },
    );
  }
  return fake;
}

async function startApp(github: string, redisUrl: string, prefix: string, registryHost: string): Promise<AppProcess> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "digesta-bench-fleet-"));
  const report = path.join(dir, "time");
  const time = spawn("/usr/bin/time", ["-o", report, "-f", "%U %S %M", process.execPath, SERVER], {
    env: appServerEnv({
      port,
      privateKey: PRIVATE_KEY,
      webhookSecret: "bench-webhook-secret",
      github,
      redisUrl,
      redisPrefix: prefix,
      sweepSecret: SWEEP_SECRET,
      registryHost,
    }),
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<void>((resolve) => time.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitForPing(url, () => (time.exitCode !== null ? `exit code ${time.exitCode}` : undefined));
  return { time, report, url, exited };
}

/** SIGTERM to the server (GNU time's child), then GNU time's report of its CPU and peak RSS. */
async function stopApp(app: AppProcess): Promise<Usage> {
  for (const pid of childrenOf(app.time.pid!)) process.kill(pid, "SIGTERM");
  await app.exited;
  const last = readFileSync(app.report, "utf8").trim().split("\n").at(-1) ?? "";
  rmSync(path.dirname(app.report), { recursive: true, force: true });
  const [user, system, rss] = last.split(" ").map(Number);
  return { cpuS: user! + system!, peakRssKiB: rss! };
}

async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return field("used_cpu_sys") + field("used_cpu_user");
}

async function sweepWith(processes: number, reg: TestRegistry, redis: TestRedis, moved: readonly Moved[]): Promise<FleetRun> {
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const fake = seedGitHub(reg, moved);
  const listeners = await Promise.all(Array.from({ length: processes }, () => fake.listen()));
  const apps: AppProcess[] = [];
  for (const listener of listeners) apps.push(await startApp(listener.url, redis.url, prefix, reg.host));
  const queue = createRedisQueue({ url: redis.url, prefix });
  const stats = new Redis(redis.url);
  const registry = registryPid();
  try {
    const load = loadavg();
    const [fromGitHub, fromRegistry] = [fake.requests.length, reg.accessLog().length];
    const cpuBefore = process.cpuUsage();
    const [redisBefore, registryBefore] = [await redisCpu(stats), registry ? cpuOf(registry) : 0];
    const started = process.hrtime.bigint();
    const response = await fetch(`${apps[0]!.url}/digesta/sweep?force=true`, { method: "POST", headers: { authorization: `Bearer ${SWEEP_SECRET}` } });
    await response.arrayBuffer();
    if (response.status !== 202) throw new Error(`the sweep endpoint answered ${response.status}`);
    // Done when every repository has its pull request and nothing waits or runs.
    for (let opened = 0; ; await pause(250)) {
      for (; opened < REPOSITORIES && fake.pulls(OWNER, `repo-${String(opened).padStart(4, "0")}`).length > 0; opened++);
      if (opened < REPOSITORIES) continue;
      const depth = await queue.depth();
      if (depth.waiting + depth.active + depth.delayed === 0) break;
    }
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    const [redisAfter, registryAfter] = [await redisCpu(stats), registry ? cpuOf(registry) : 0];
    const loadAfter = loadavg();
    const usage = await Promise.all(apps.map(stopApp));
    const asked = reg.accessLog().slice(fromRegistry).filter((entry) => entry.method === "GET" || entry.method === "HEAD");
    const tagReads = asked.filter((entry) => /\/manifests\/(?!sha256[:-])[^/]+$/.test(entry.path));
    return {
      processes,
      repositories: REPOSITORIES,
      wallS,
      githubRequests: fake.requests.length - fromGitHub,
      githubWrites: fake.writes(fromGitHub).length,
      registryRequests: asked.length,
      tagReads: tagReads.length,
      uniqueTags: new Set(tagReads.map((entry) => entry.path)).size,
      appCpuS: usage.reduce((sum, u) => sum + u.cpuS, 0),
      appPeakRssKiB: Math.max(...usage.map((u) => u.peakRssKiB)),
      fakeCpuS: (cpu.user + cpu.system) / 1e6,
      redisCpuS: redisAfter - redisBefore,
      registryCpuS: registryAfter - registryBefore,
      load,
      loadAfter,
    };
  } finally {
    for (const app of apps) if (app.time.exitCode === null) for (const pid of childrenOf(app.time.pid!)) process.kill(pid, "SIGKILL");
    await queue.close({ graceMs: 1000 });
    stats.disconnect();
    await Promise.all(listeners.map((listener) => listener.close()));
  }
}

export function describeFleetRun(run: FleetRun, cores: number): string {
  const busy = run.appCpuS + run.fakeCpuS + run.redisCpuS + run.registryCpuS;
  return [
    `${run.processes} process${run.processes === 1 ? "" : "es"} × 4 runs each: ${run.wallS.toFixed(1)} s wall for ${run.repositories} repositories (${(run.repositories / run.wallS).toFixed(1)}/s)`,
    `  GitHub: ${run.githubRequests} requests, ${run.githubWrites} writes (${(run.githubWrites / run.repositories).toFixed(2)} per repository); registry: ${run.registryRequests} requests, ${run.tagReads} tag reads for ${run.uniqueTags} unique tags`,
    `  CPU: app ${run.appCpuS.toFixed(1)} s (${((run.appCpuS * 1000) / run.repositories).toFixed(0)} ms per repository), GitHub fake ${run.fakeCpuS.toFixed(1)} s, Redis ${run.redisCpuS.toFixed(1)} s, registry ${run.registryCpuS.toFixed(1)} s: ${((100 * busy) / (run.wallS * cores)).toFixed(0)}% of ${cores} cores; app peak RSS ${(run.appPeakRssKiB / 1024).toFixed(0)} MiB per process`,
    `  bound: the CPU of all parts, ${((1000 * busy) / run.repositories).toFixed(0)} ms per repository, would allow ${((cores * run.repositories) / busy).toFixed(1)}/s on ${cores} idle cores; on github.com, GitHub's pacing (one write a second, one pull request every 3 s, fleet-wide) allows ${(1 / Math.max(run.githubWrites / run.repositories, 3)).toFixed(2)}/s: ${Math.ceil(Math.max(run.githubWrites, 3 * run.repositories) / 60)} min for these ${run.repositories}`,
    `  load ${run.load.map((l) => l.toFixed(2)).join(" ")} before, ${run.loadAfter[0]!.toFixed(2)} after`,
  ].join("\n");
}

export async function benchFleet(): Promise<void> {
  if (!existsSync(SERVER)) throw new Error("dist/ is missing: run `npm run build` first (the bench runs the built server)");
  const [reg, redis] = await Promise.all([startRegistry({ accessLog: true }), startRedis()]);
  try {
    const moved = await pushTags(reg);
    console.log(`${REPOSITORIES} repositories, each pinning 2 of ${TAGS} moved tags; GitHub pacing off; app processes of 4 concurrent runs`);
    for (const processes of FLEET_SIZES) console.log(describeFleetRun(await sweepWith(processes, reg, redis, moved), availableParallelism()));
  } finally {
    await Promise.all([reg.stop(), redis.stop()]);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(machineLine());
  await benchFleet();
}
