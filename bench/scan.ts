// Scan: `digesta scan DIR --json` against ripgrep's floor for the job, `rg -c --no-ignore '@sha256:' DIR`, both
// whole processes on the same generated tree (50,000 files, about 500 MB, 10,000 pins), paired run by run. A
// heavier ripgrep pattern (the pins themselves) is measured beside it, never instead. Peak RSS is measured on a
// quarter, half and the whole tree to show whether memory grows with the tree.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "../test/support/random.js";
import { describePaired, digesta, median, paired, runProcess, withoutExtraCaCerts, type Command } from "./process.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const WORK = path.join(here, ".work");
/** Bump when the generator changes, so a cached tree from an older generator is rebuilt. */
const TREE_VERSION = 1;
const TREE = path.join(WORK, `scan-tree-v${TREE_VERSION}`);
const FILES = 50_000;
const REFERENCES = 10_000;
const TARGET_BYTES = 500 * 1024 * 1024;
const ROUNDS = 7;
/** The heavier pattern, reported beside the floor: the pins themselves, tag required. */
const RG_PIN_PATTERN = "[a-z0-9._/:-]+:[A-Za-z0-9_][A-Za-z0-9_.-]*@sha256:[a-f0-9]{64}";

interface TreeStats {
  readonly files: number;
  readonly bytes: number;
  readonly references: number;
}

// ---- tree generation (deterministic) -------------------------------------------------------------------------

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
  const random = seededRandom(20240501);
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

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

const ripgrep = (label: string, pattern: string, dir: string): Command => ({
  label,
  file: "rg",
  args: ["-c", "--no-ignore", pattern, dir],
  ok: [0, 1],
});

/** Sum of ripgrep's per-file counts (`path:count` lines). */
function ripgrepCount(stdout: string): number {
  let total = 0;
  for (const line of stdout.split("\n")) if (line) total += Number(line.slice(line.lastIndexOf(":") + 1));
  return total;
}

export async function benchScan(): Promise<void> {
  const stats = ensureTree();
  console.log(`tree: ${fmt(stats.files)} files, ${fmt(stats.bytes / 1024 / 1024)} MB, ${fmt(stats.references)} pins generated`);
  if (spawnSync("rg", ["--version"]).status !== 0) {
    console.log("ripgrep (rg) not installed: no reference, no figure");
    return;
  }
  const scan = digesta("digesta scan --json", "scan", TREE, "--json");
  const floor = paired(scan, ripgrep("rg -c --no-ignore @sha256:", "@sha256:", TREE), ROUNDS);
  console.log(`digesta scan DIR --json vs ripgrep's floor (${fmt(stats.files)} files)`);
  console.log(describePaired(floor, "≤ 1.5x wall and CPU"));
  const withoutCa = withoutExtraCaCerts(scan);
  if (withoutCa) {
    console.log("beside it, the same with NODE_EXTRA_CA_CERTS unset (Node 20 reads it at every start, Node 24 at its first TLS connection)");
    console.log(describePaired(paired(withoutCa, ripgrep("rg -c --no-ignore @sha256:", "@sha256:", TREE), 3)));
  }
  const found = (JSON.parse(floor.subjectStdout) as unknown[]).length;
  const rgMarks = ripgrepCount(floor.referenceStdout);
  console.log(`  pins: digesta ${fmt(found)} (generator wrote ${fmt(stats.references)}); ripgrep counted ${fmt(rgMarks)} lines with @sha256:`);

  const plain = paired(digesta("digesta scan (text)", "scan", TREE), ripgrep("rg -c --no-ignore @sha256:", "@sha256:", TREE), 3);
  console.log(`digesta scan DIR (text output) vs the same floor`);
  console.log(describePaired(plain, "≤ 1.5x wall and CPU"));

  const heavier = paired(scan, ripgrep("rg -c --no-ignore PIN_PATTERN", RG_PIN_PATTERN, TREE), 3);
  console.log(`beside it, ripgrep with the pin pattern itself (${RG_PIN_PATTERN})`);
  console.log(describePaired(heavier));

  // Peak RSS against tree size: a scan that streams its results out holds one file at a time, whatever the tree.
  const rss: string[] = [];
  for (const [label, dir] of [["half", path.join(TREE, "a")], ["whole", TREE]] as const) {
    const runs = [0, 1, 2].map(() => runProcess(digesta(label, "scan", dir, "--json")));
    rss.push(`${label} ${fmt(median(runs.map((r) => r.peakRssKiB)) / 1024)} MiB`);
  }
  console.log(`  digesta peak RSS by tree size: ${rss.join(", ")}`);
}
