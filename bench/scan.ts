// Scan benchmark: digesta's scanDirectory against ripgrep on the same generated tree (about 50,000 files,
// 500 MB, 10,000 pins). Run alone with `node --import tsx bench/scan.ts`, or through bench/run.ts.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { scanDirectory } from "../src/scan/directory.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const WORK = path.join(here, ".work");
/** Bump when the generator changes, so a cached tree from an older generator is rebuilt. */
const TREE_VERSION = 1;
const TREE = path.join(WORK, `scan-tree-v${TREE_VERSION}`);
const FILES = 50_000;
const REFERENCES = 10_000;
const TARGET_BYTES = 500 * 1024 * 1024;
const RUNS = 3;
/** What ripgrep looks for: the same pins, tag required. */
const RG_PATTERN = "[a-z0-9._/:-]+:[A-Za-z0-9_][A-Za-z0-9_.-]*@sha256:[a-f0-9]{64}";

interface TreeStats {
  readonly files: number;
  readonly bytes: number;
  readonly references: number;
}

// ---- tree generation (deterministic) -------------------------------------------------------------------------

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the of and to in is it you that he was for on are with as his they be at one have this from or had by " +
  "word but what some we can out other were all there when up use your how said an each she which do their time if " +
  "will way about many then them write would like so these her long make thing see him two has look more day could go " +
  "come did number sound no most people my over know water than call first who may down side been now find any new work"
).split(" ");
const IMAGES = [
  "nginx",
  "alpine",
  "library/redis",
  "bitnami/postgresql",
  "cgr.dev/chainguard/static",
  "cgr.dev/chainguard/node",
  "ghcr.io/acme/api-server",
  "gcr.io/distroless/base-debian12",
  "quay.io/prometheus/node-exporter",
  "registry.example.com:5000/team/worker",
  "123456789012.dkr.ecr.us-east-1.amazonaws.com/billing/app",
  "mcr.microsoft.com/dotnet/runtime",
];
const TAGS = ["latest", "1.25", "3.20", "v1.2.3", "16-alpine", "2024.05.1", "stable", "8.0-jammy", "V2_RC1"];

type Kind = "yaml" | "dockerfile" | "shell" | "text";

function generateTree(): TreeStats {
  const random = prng(20240501);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const hex = (n: number) => {
    let s = "";
    for (let i = 0; i < n; i++) s += "0123456789abcdef"[Math.floor(random() * 16)];
    return s;
  };
  const kinds: Kind[] = [];
  for (let i = 0; i < FILES; i++) {
    const r = random();
    kinds.push(r < 0.3 ? "yaml" : r < 0.4 ? "dockerfile" : r < 0.55 ? "shell" : "text");
  }
  // Pins go mostly to YAML, Dockerfiles and scripts, some to prose.
  const pinsPerFile = new Uint16Array(FILES);
  for (let placed = 0; placed < REFERENCES; ) {
    const i = Math.floor(random() * FILES);
    if (kinds[i] === "text" && random() < 0.7) continue;
    pinsPerFile[i]!++;
    placed++;
  }
  const reference = () => `${pick(IMAGES)}:${pick(TAGS)}@sha256:${hex(64)}`;
  const sentence = () => Array.from({ length: 6 + Math.floor(random() * 10) }, () => pick(WORDS)).join(" ");
  const pinLine: Record<Kind, () => string> = {
    yaml: () => pick([`        image: ${reference()}`, `  - image: "${reference()}"`, `images: [${reference()}]`]),
    dockerfile: () => pick([`FROM --platform=$BUILDPLATFORM ${reference()} AS build`, `COPY --from=${reference()} /src /dst`, `ARG BASE=${reference()}`]),
    shell: () => pick([`docker run --rm "\${IMAGE:-${reference()}}" "$@"`, `kubectl set image deploy/x x=${reference()}`, `IMG ?= ${reference()}`]),
    text: () => pick([`Use \`${reference()}\` for production.`, `| ${sentence()} | ${reference()} |`]),
  };
  const noiseLine: Record<Kind, () => string> = {
    yaml: () => pick([`  ${pick(WORDS)}: ${sentence()}`, `        image: ${pick(IMAGES)}:${pick(TAGS)}`, `    - name: ${pick(WORDS)}-${pick(WORDS)}`]),
    dockerfile: () => pick([`RUN apt-get install -y ${pick(WORDS)} ${pick(WORDS)} && rm -rf /var/lib/apt/lists/*`, `# ${sentence()}`, `ENV ${pick(WORDS).toUpperCase()}=${pick(WORDS)}`]),
    shell: () => pick([`echo "${sentence()}"`, `if [ -n "$${pick(WORDS).toUpperCase()}" ]; then ${pick(WORDS)}; fi`, `echo "sha256:${hex(64)}  ${pick(WORDS)}.tar.gz"`]),
    text: () => pick([sentence(), `${sentence()} (mail ${pick(WORDS)}@example.com)`, `checksum sha256:${hex(64)} ${sentence()}`]),
  };

  rmSync(`${TREE}.partial`, { recursive: true, force: true });
  let bytes = 0;
  const extension: Record<Kind, string> = { yaml: ".yaml", dockerfile: "", shell: ".sh", text: ".md" };
  for (let i = 0; i < FILES; i++) {
    const kind = kinds[i]!;
    // 90% small (2-12 KB), 10% larger (20-54 KB): about 10 KB on average.
    const size = random() < 0.9 ? 2048 + random() * 10240 : 20480 + random() * 34816;
    const lines: string[] = [];
    let length = 0;
    while (length < size) {
      const line = noiseLine[kind]();
      lines.push(line);
      length += line.length + 1;
    }
    for (let p = 0; p < pinsPerFile[i]!; p++) lines.splice(Math.floor(random() * (lines.length + 1)), 0, pinLine[kind]());
    const text = `${lines.join("\n")}\n`;
    const half = i < FILES / 2 ? "a" : "b";
    const dir = path.join(`${TREE}.partial`, half, `repo-${i % 100}`, `dir-${Math.floor(i / 100) % 10}`);
    const name = kind === "dockerfile" ? `Dockerfile.${i}` : `file-${i}${extension[kind]}`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, name), text);
    bytes += text.length;
  }
  const stats: TreeStats = { files: FILES, bytes, references: REFERENCES };
  writeFileSync(path.join(`${TREE}.partial`, "..", `scan-tree-v${TREE_VERSION}.json`), JSON.stringify(stats));
  renameSync(`${TREE}.partial`, TREE);
  return stats;
}

function ensureTree(): TreeStats {
  const statsFile = path.join(WORK, `scan-tree-v${TREE_VERSION}.json`);
  if (existsSync(TREE) && existsSync(statsFile)) return JSON.parse(readFileSync(statsFile, "utf8")) as TreeStats;
  mkdirSync(WORK, { recursive: true });
  console.log(`generating ${FILES} files (~${TARGET_BYTES / 1024 / 1024} MB) in ${path.relative(process.cwd(), TREE)} (once)…`);
  const started = performance.now();
  const stats = generateTree();
  console.log(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return stats;
}

// ---- measuring -----------------------------------------------------------------------------------------------

interface Run {
  readonly ms: number;
  /** User + system CPU time: steadier than wall time on a busy machine. */
  readonly cpuMs: number;
  readonly pins: number;
  readonly maxRssKiB: number;
}

interface DigestaRun extends Run {
  readonly files: number;
  readonly bytes: number;
  /** RSS of the child before it scans: Node, tsx and the modules loaded. */
  readonly baseRssKiB: number;
}

/** One scan in a fresh Node process, so its peak RSS is the scan's own. */
function runDigesta(dir: string, nodeFlags: string[] = []): DigestaRun {
  const child = spawnSync(process.execPath, [...nodeFlags, "--import", "tsx", fileURLToPath(import.meta.url), "--child", dir], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`digesta scan failed: ${child.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as DigestaRun;
}

function runRipgrep(dir: string): Run {
  const args = ["--no-config", "--hidden", "--no-ignore", "--count-matches", "-e", RG_PATTERN, dir];
  const started = performance.now();
  const child = spawnSync("/usr/bin/time", ["-f", "TIME %M %U %S", "rg", ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - started;
  if (child.status !== 0 && child.status !== 1) throw new Error(`rg failed: ${child.stderr.trim()}`);
  let pins = 0;
  for (const line of child.stdout.split("\n")) {
    const count = Number(line.slice(line.lastIndexOf(":") + 1));
    if (line && Number.isFinite(count)) pins += count;
  }
  const [, rss, user, system] = /TIME (\d+) ([\d.]+) ([\d.]+)/.exec(child.stderr) ?? [];
  return { ms, cpuMs: (Number(user) + Number(system)) * 1000, pins, maxRssKiB: Number(rss) };
}

/** Warms the page cache with one run of each, then runs them in turn RUNS times (so both see the same load). */
function measure<T extends Record<string, () => Run>>(runners: T): { [K in keyof T]: { best: ReturnType<T[K]>; cpuMs: number; peakRssKiB: number } } {
  const names = Object.keys(runners) as (keyof T)[];
  const runs = new Map<keyof T, Run[]>(names.map((name) => [name, []]));
  for (const name of names) runners[name]!();
  for (let round = 0; round < RUNS; round++) for (const name of names) runs.get(name)!.push(runners[name]!());
  return Object.fromEntries(
    names.map((name) => {
      const list = runs.get(name)!;
      return [
        name,
        {
          best: list.reduce((a, b) => (b.ms < a.ms ? b : a)),
          cpuMs: Math.min(...list.map((r) => r.cpuMs)),
          peakRssKiB: Math.max(...list.map((r) => r.maxRssKiB)),
        },
      ];
    }),
  ) as never;
}

const mb = (bytes: number) => bytes / 1024 / 1024;
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

export async function benchScan(): Promise<void> {
  const stats = ensureTree();
  console.log(`tree: ${fmt(stats.files)} files, ${fmt(mb(stats.bytes))} MB, ${fmt(stats.references)} pins generated`);
  const rgAvailable = spawnSync("rg", ["--version"]).status === 0 && existsSync("/usr/bin/time");
  const half = path.join(TREE, "a");

  const result = measure({
    digesta: () => runDigesta(TREE),
    ...(rgAvailable ? { ripgrep: () => runRipgrep(TREE) } : {}),
    half: () => runDigesta(half),
  } as Record<string, () => Run>);
  const digesta = result.digesta! as { best: DigestaRun; cpuMs: number; peakRssKiB: number };
  const halfRun = result.half! as { best: DigestaRun; cpuMs: number; peakRssKiB: number };
  const d = digesta.best;
  const line = (name: string, r: { best: Run; cpuMs: number; peakRssKiB: number }, files: number, bytes: number) =>
    console.log(
      `${name.padEnd(8)} ${fmt(r.best.ms).padStart(6)} ms wall  ${fmt(r.cpuMs).padStart(6)} ms CPU  ` +
        `${fmt(files / (r.best.ms / 1000)).padStart(7)} files/s  ${fmt(mb(bytes) / (r.best.ms / 1000)).padStart(5)} MB/s  ` +
        `peak RSS ${fmt(r.peakRssKiB / 1024)} MB  pins ${fmt(r.best.pins)}`,
    );
  line("digesta", digesta, d.files, d.bytes);
  if (result.ripgrep) line("ripgrep", result.ripgrep, stats.files, stats.bytes);

  // Peak RSS against tree size: the scan itself holds one file and one directory listing; what grows is the
  // result list and V8's young generation, which V8 enlarges (up to a fixed cap) as results survive. Capping
  // the young generation shows the first alone.
  const capped = ["--max-semi-space-size=1"];
  const cappedFull = runDigesta(TREE, capped);
  const cappedHalf = runDigesta(half, capped);
  console.log(
    `peak RSS, full tree ${fmt(digesta.peakRssKiB / 1024)} MB, half ${fmt(halfRun.peakRssKiB / 1024)} MB ` +
      `(${fmt(halfRun.best.files)} files, ${fmt(halfRun.best.ms)} ms); Node + tsx before scanning ${fmt(d.baseRssKiB / 1024)} MB; ` +
      `with V8's young generation capped (${capped.join(" ")}): full ${fmt(cappedFull.maxRssKiB / 1024)} MB, half ${fmt(cappedHalf.maxRssKiB / 1024)} MB`,
  );
  if (d.pins !== stats.references) console.log(`!! digesta found ${d.pins} pins, the generator wrote ${stats.references}`);
  if (!result.ripgrep) {
    console.log("ripgrep (rg) or /usr/bin/time not installed: no comparison");
    return;
  }
  const rg = result.ripgrep;
  console.log(
    `digesta/ripgrep: wall ${fmt(d.ms / rg.best.ms, 2)}×, CPU ${fmt(digesta.cpuMs / rg.cpuMs, 2)}× (goal: wall ≤ 2×; ` +
      `digesta timed in-process around scanDirectory, ripgrep as a whole process)`,
  );
  console.log(rg.best.pins === d.pins ? "both found the same number of pins" : `!! counts differ: digesta ${d.pins}, ripgrep ${rg.best.pins}`);
}

async function child(dir: string): Promise<void> {
  const baseRssKiB = process.memoryUsage().rss / 1024;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const report = await scanDirectory(dir);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const result: DigestaRun = {
    ms,
    cpuMs: (used.user + used.system) / 1000,
    files: report.filesScanned,
    bytes: report.bytesScanned,
    pins: report.pinned.length,
    baseRssKiB,
    maxRssKiB: process.resourceUsage().maxRSS,
  };
  console.log(JSON.stringify(result));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const at = process.argv.indexOf("--child");
  if (at >= 0) await child(process.argv[at + 1]!);
  else await benchScan();
}
