// The real `digesta update` (a child process) against a real registry behind a proxy that damages answers at random,
// over many seeded runs: every written digest must be the truth read straight from the registry, every pin left alone
// must be reported with its reason, and no run may outlast its deadlines. Then the credentials campaign: redirects to
// another loopback host (127.0.0.2) that challenges for a token get no credential, and no secret reaches any output.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAULTS, startFaultProxy, type Fault } from "../support/fault-proxy.js";
import { LINUX_AMD64, LINUX_ARM64, MULTI_ARCH, movingTag, platformKey } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { seededRandom } from "../support/random.js";

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "src", "cli", "bin.ts");
const DIGEST = /sha256:[0-9a-f]{64}/g;

/** Short limits, so that a campaign of many runs stays well under a minute on two cores. */
const DEADLINE_S = 3;
const NETWORK_ENV = { DIGESTA_TIMEOUT: "0.5", DIGESTA_DEADLINE: String(DEADLINE_S), DIGESTA_RETRIES: "4", DIGESTA_RETRY_DELAY: "0.02" };
/**
 * The longest a run may spend talking to the registry: the operations one pin needs one after the other (ping, tag,
 * the pinned manifest, configs for a platform pin, the moved-to manifest, a digest confirmation), each bounded by the
 * deadline, and a margin for a loaded machine. Start-up is not counted: it is measured from the first request.
 */
const NETWORK_BUDGET_MS = 8 * DEADLINE_S * 1000 + 3000;
const RUNS = 12;
const FAULT_RATE = 0.3;

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp", NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    // A hang is a failure, never a stuck suite.
    const killer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}


interface Pin {
  readonly file: string;
  readonly image: string;
  readonly tag: string;
  readonly pinned: string;
  /** What it should carry after an update: the truth read from the registry. */
  readonly truth: string;
}

interface UpdateJson {
  readonly updated: { image: string; tag: string; from: string; to: string }[];
  readonly upToDate: { image: string; tag: string; digest: string }[];
  readonly failed: { image: string; tag: string; digest: string; reason: string }[];
}

/** The digest a tag points to and its platform entries, read from the registry itself, not through the proxy. */
async function truthOf(reg: TestRegistry, repository: string, tag: string): Promise<{ digest: string; platforms: Record<string, string> }> {
  const response = await reg.fetch(`/v2/${repository}/manifests/${tag}`, {
    headers: { accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json" },
  });
  const body = (await response.json()) as { manifests?: { digest: string; platform?: { os: string; architecture: string; variant?: string } }[] };
  const platforms: Record<string, string> = {};
  for (const entry of body.manifests ?? []) if (entry.platform) platforms[platformKey(entry.platform)] = entry.digest;
  return { digest: response.headers.get("docker-content-digest") ?? "", platforms };
}

describe("a campaign of faults between digesta update and a real registry", () => {
  let reg: TestRegistry;
  /** The pins each run's tree holds, at the host of that run's proxy. */
  let pinsAt: (host: string) => Pin[];

  beforeAll(async () => {
    reg = await startRegistry();
    const [multi, single, stay] = await Promise.all([
      movingTag(reg, "team/multi", "1", { platforms: MULTI_ARCH }),
      movingTag(reg, "team/single", "2"),
      movingTag(reg, "team/stay", "3"),
    ]);
    const truths = {
      multi: await truthOf(reg, "team/multi", "1"),
      single: await truthOf(reg, "team/single", "2"),
      stay: await truthOf(reg, "team/stay", "3"),
    };
    // The registry's own answers agree with what the suite pushed: the truth is the registry's, not our bookkeeping.
    expect(truths.multi.digest).toBe(multi.after.digest);
    expect(truths.single.digest).toBe(single.after.digest);
    const arm = platformKey(LINUX_ARM64);
    const amd = platformKey(LINUX_AMD64);
    pinsAt = (host) => [
      { file: "deploy.yaml", image: `${host}/team/multi`, tag: "1", pinned: multi.before.digest, truth: truths.multi.digest },
      { file: "deploy.yaml", image: `${host}/team/multi`, tag: "1", pinned: multi.before.platforms[arm]!, truth: truths.multi.platforms[arm]! },
      { file: "Dockerfile", image: `${host}/team/single`, tag: "2", pinned: single.before.digest, truth: truths.single.digest },
      { file: "Dockerfile", image: `${host}/team/multi`, tag: "1", pinned: multi.before.platforms[amd]!, truth: truths.multi.platforms[amd]! },
      { file: "scripts/run.sh", image: `${host}/team/stay`, tag: "3", pinned: stay.after.digest, truth: truths.stay.digest },
      { file: "scripts/run.sh", image: `${host}/team/single`, tag: "2", pinned: single.before.digest, truth: truths.single.digest },
    ];
  });

  afterAll(async () => {
    await reg?.stop();
  });

  /** Writes the tree of one run: each file a header line and its pins, one a line. */
  async function writeTree(dir: string, pins: readonly Pin[]): Promise<Map<string, string>> {
    const byFile = new Map<string, string[]>();
    for (const pin of pins) {
      const lines = byFile.get(pin.file) ?? [];
      lines.push(pin.file === "Dockerfile" ? `FROM ${pin.image}:${pin.tag}@${pin.pinned} AS s${lines.length}` : `  image: "${pin.image}:${pin.tag}@${pin.pinned}"  # keep`);
      byFile.set(pin.file, lines);
    }
    const texts = new Map<string, string>();
    for (const [file, lines] of byFile) {
      const path = join(dir, file);
      await mkdir(join(path, ".."), { recursive: true });
      texts.set(file, `# header\n${lines.join("\n")}\n`);
      await writeFile(path, texts.get(file)!);
    }
    return texts;
  }

  /** One seeded run: its own proxy and tree, the CLI, and every check on what it wrote and said. */
  async function campaignRun(seed: number): Promise<{ moved: number; faults: Fault[] }> {
    const next = seededRandom(seed);
    // Which requests are damaged is random; the kinds of damage take turns, so that every kind is dealt in a campaign.
    let dealt = seed;
    const proxy = await startFaultProxy({
      target: reg.url,
      choose: () => (next() < FAULT_RATE ? FAULTS[dealt++ % FAULTS.length]! : "none"),
      trickleMs: 250,
    });
    const dir = await mkdtemp(join(tmpdir(), `digesta-faults-${seed}-`));
    try {
      const pins = pinsAt(proxy.host);
      const originals = await writeTree(dir, pins);
      const started = performance.now();
      const result = await runCli(["update", dir, "--json", "--no-diff"], { ...NETWORK_ENV, DOCKER_CONFIG: "/nonexistent", LOG_LEVEL: "warn" });
      const ended = performance.now();
      const context = `seed ${seed}: exit ${result.code}; stderr: ${result.stderr.slice(0, 2000)}`;
      expect([0, 2], context).toContain(result.code);
      const report = JSON.parse(result.stdout) as UpdateJson;

      // Every digest written is well formed and is either the pin's own or the registry's truth for it.
      const texts = new Map<string, string>();
      for (const [file, original] of originals) {
        const text = await readFile(join(dir, file), "utf8");
        texts.set(file, text);
        expect(text.replace(DIGEST, "D"), `${context}: ${file} changed beyond its digests`).toBe(original.replace(DIGEST, "D"));
      }
      let moved = 0;
      const occurrence = new Map<string, number>();
      for (const pin of pins) {
        const index = occurrence.get(pin.file) ?? 0;
        occurrence.set(pin.file, index + 1);
        const written = [...texts.get(pin.file)!.matchAll(DIGEST)][index]![0];
        expect([pin.pinned, pin.truth], `${context}: ${pin.file} pin ${index} holds ${written}`).toContain(written);
        if (written !== pin.pinned) moved++;
        if (written === pin.pinned && pin.pinned !== pin.truth) {
          // Left alone although stale: it must be reported, with a reason.
          const failure = report.failed.find((f) => f.image === pin.image && f.tag === pin.tag && f.digest === pin.pinned);
          expect(failure, `${context}: stale pin ${pin.image}:${pin.tag}@${pin.pinned} left unreported`).toBeDefined();
          expect(failure!.reason.length).toBeGreaterThan(10);
        }
      }
      expect(result.code === 0, context).toBe(report.failed.length === 0);

      // No run outlasts its deadlines: from its first request to the registry until the process has ended.
      expect(proxy.log.length, context).toBeGreaterThan(0);
      const networkMs = ended - proxy.log[0]!.at;
      expect(networkMs, `${context}: ended ${Math.round(networkMs)} ms after its first request (${Math.round(ended - started)} ms in all)`).toBeLessThan(
        NETWORK_BUDGET_MS,
      );
      return { moved, faults: proxy.log.map((entry) => entry.fault) };
    } finally {
      await proxy.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }

  it(`writes only the registry's truth, reports every pin it leaves, and keeps to its deadlines, over ${RUNS} seeded runs`, { timeout: 300_000 }, async () => {
    const outcomes: { moved: number; faults: Fault[] }[] = [];
    // Two runs at a time, one per core.
    for (let seed = 1; seed <= RUNS; seed += 2) {
      outcomes.push(...(await Promise.all([campaignRun(seed), campaignRun(seed + 1)])));
    }
    // The campaign did what it says: faults of every kind were dealt, and stale pins still moved through them.
    const injected = new Set(outcomes.flatMap((o) => o.faults));
    for (const fault of FAULTS) expect(injected, `fault ${fault} never injected`).toContain(fault);
    expect(outcomes.reduce((sum, o) => sum + o.moved, 0)).toBeGreaterThanOrEqual(RUNS);
  });
});

describe("credentials under redirects to another host", () => {
  let reg: TestRegistry;
  let stranger: Server;
  let redirector: { host: string; stop(): Promise<void> };
  const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
  let dir: string;

  beforeAll(async () => {
    reg = await startRegistry({ auth: "token" });
    await movingTag(reg, "team/app", "1");
    // Another loopback host, which challenges for a token of its own at a realm on itself.
    stranger = createServer((request, response) => {
      seen.push({ path: request.url ?? "", headers: request.headers });
      request.resume();
      const port = (stranger.address() as AddressInfo).port;
      if ((request.url ?? "").startsWith("/token")) return void response.writeHead(200, { "content-type": "application/json" }).end('{"token":"stranger-token"}');
      response.writeHead(401, { "www-authenticate": `Bearer realm="http://127.0.0.2:${port}/token",service="stranger",scope="repository:team/app:pull"` }).end();
    });
    await new Promise<void>((resolve) => stranger.listen(0, "127.0.0.2", resolve));
    const strangerPort = (stranger.address() as AddressInfo).port;
    // Every manifest request is answered with a redirect to the stranger; the ping and tokens reach the registry.
    redirector = await startRedirector(reg.host, strangerPort);
    dir = await mkdtemp(join(tmpdir(), "digesta-redirect-"));
    const pinned = (await truthOf(reg, "team/app", "1")).digest.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
    await writeFile(join(dir, "deploy.yaml"), `image: ${redirector.host}/team/app:1@${pinned}\n`);
  });

  afterAll(async () => {
    await redirector?.stop();
    stranger?.closeAllConnections();
    await new Promise((resolve) => stranger?.close(resolve));
    await reg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("sends the stranger no Authorization and no credential, and prints no secret at LOG_LEVEL=debug", async () => {
    const dockerConfig = await reg.dockerConfigDir();
    // The credentials are the registry's, filed under the host digesta talks to.
    const config = JSON.parse(await readFile(join(dockerConfig, "config.json"), "utf8")) as { auths: Record<string, { auth: string }> };
    const auth = Object.values(config.auths)[0]!.auth;
    await writeFile(join(dockerConfig, "config.json"), JSON.stringify({ auths: { [redirector.host]: { auth } } }));
    const result = await runCli(["update", dir, "--json", "--no-diff"], { ...NETWORK_ENV, DOCKER_CONFIG: dockerConfig, LOG_LEVEL: "debug" });
    expect(result.code, result.stderr).toBe(2);
    const report = JSON.parse(result.stdout) as UpdateJson;
    expect(report.failed).toHaveLength(1);
    expect(seen.length).toBeGreaterThan(0);
    for (const request of seen) {
      expect(request.headers.authorization, `${request.path} got an Authorization header`).toBeUndefined();
      expect(request.path.startsWith("/token"), `the stranger's token realm was asked: ${request.path}`).toBe(false);
    }
    // Tokens did flow between digesta and the registry: the campaign exercised them.
    expect(reg.tokenServer!.requests.some((r) => r.username === reg.username)).toBe(true);
    const output = result.stdout + result.stderr;
    expect(output).toContain('"level":20');
    for (const secret of [reg.password!, auth, Buffer.from(auth, "base64").toString()]) expect(output).not.toContain(secret);
    expect(output).not.toMatch(/Bearer [A-Za-z0-9._-]{20,}/);
  });
});

/** Answers manifest requests with a 307 to the stranger on 127.0.0.2; passes everything else to `upstream`. */
async function startRedirector(upstream: string, strangerPort: number): Promise<{ host: string; stop(): Promise<void> }> {
  const server = createServer(async (request, response) => {
    const path = request.url ?? "/";
    if (/\/manifests\//.test(path)) {
      request.resume();
      return void response.writeHead(307, { location: `http://127.0.0.2:${strangerPort}${path}` }).end();
    }
    const headers: Record<string, string> = {};
    for (const name of ["accept", "authorization"]) if (typeof request.headers[name] === "string") headers[name] = request.headers[name] as string;
    try {
      const answer = await fetch(`http://${upstream}${path}`, { method: request.method ?? "GET", headers, redirect: "manual" });
      const body = Buffer.from(await answer.arrayBuffer());
      const passed: Record<string, string> = {};
      for (const name of ["content-type", "docker-content-digest", "www-authenticate", "location"]) {
        const value = answer.headers.get(name);
        if (value !== null) passed[name] = value;
      }
      response.writeHead(answer.status, passed).end(body);
    } catch {
      response.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

