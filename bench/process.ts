// Whole-process measurement, paired: digesta and its reference run as a user runs them, alternately on the same
// input, and what is reported is the median of the per-round ratios (so load that comes and goes on a shared
// machine hits both sides of a round alike). CPU time and peak RSS are the child's own, from wait4() as reported
// by GNU time (Debian's `time`): user + system seconds to 10 ms, and the high-water mark of its resident set.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** The CLI as an installed package runs it: node on the bin script, which loads the bundle `npm run build` writes. */
export const DIGESTA_BIN = path.join(ROOT, "bin", "digesta.js");
const TIME = "/usr/bin/time";

export interface Command {
  readonly label: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Exit codes that count as success (default 0). */
  readonly ok?: readonly number[];
}

export interface ProcessRun {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly peakRssKiB: number;
  readonly stdout: string;
}

export const digesta = (label: string, ...args: string[]): Command => ({ label, file: process.execPath, args: [DIGESTA_BIN, ...args] });

/** The floor of any Node command line: the same Node starting and doing nothing. */
export const nodeFloor: Command = { label: "node -e 0", file: process.execPath, args: ["-e", "0"] };

/** Runs one command to completion under GNU time; wall time is taken around the spawn, stdout is read whole. */
export function runProcess(command: Command): ProcessRun {
  const dir = mkdtempSync(path.join(tmpdir(), "digesta-bench-"));
  const report = path.join(dir, "time");
  try {
    const started = process.hrtime.bigint();
    const child = spawnSync(TIME, ["-o", report, "-f", "%U %S %M", command.file, ...command.args], {
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
      env: command.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (child.error) throw child.error;
    return finished(command, report, wallMs, child.status, child.stdout, child.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * runProcess without blocking this process's event loop, for a measured process that talks to a server living in
 * this process (a relay counting bytes on the wire).
 */
export async function runProcessAsync(command: Command): Promise<ProcessRun> {
  const dir = mkdtempSync(path.join(tmpdir(), "digesta-bench-"));
  const report = path.join(dir, "time");
  try {
    const started = process.hrtime.bigint();
    const child = spawn(TIME, ["-o", report, "-f", "%U %S %M", command.file, ...command.args], {
      env: command.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const status = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    return finished(command, report, wallMs, status, stdout, stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function finished(command: Command, report: string, wallMs: number, status: number | null, stdout: string, stderr: string): ProcessRun {
  if (!(command.ok ?? [0]).includes(status ?? -1)) {
    throw new Error(`${command.label} exited ${status}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
  const last = readFileSync(report, "utf8").trim().split("\n").at(-1) ?? "";
  const [user, system, rss] = last.split(" ").map(Number);
  if (![user, system, rss].every(Number.isFinite)) throw new Error(`could not read ${TIME}'s report for ${command.label}: ${last}`);
  return { wallMs, cpuMs: (user! + system!) * 1000, peakRssKiB: rss!, stdout };
}

export interface Side {
  readonly label: string;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly peakRssKiB: number;
}

export interface Paired {
  readonly subject: Side;
  readonly reference: Side;
  readonly rounds: number;
  /** Medians of the per-round ratios subject / reference. */
  readonly wallRatio: number;
  readonly cpuRatio: number;
  /** Spread of the wall ratio over the rounds (first and third quartile). */
  readonly wallRatioQuartiles: readonly [number, number];
  readonly load: LoadState;
  /** The subject's stdout from its last run, to check what it found. */
  readonly subjectStdout: string;
  readonly referenceStdout: string;
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

/**
 * One warm-up run of each (page cache, lazy compilation caches of the OS), then `rounds` rounds of one run each,
 * the order swapped every round so neither side always runs first.
 */
export function paired(subject: Command, reference: Command, rounds: number): Paired {
  const before = loadNow();
  runProcess(subject);
  runProcess(reference);
  const s: ProcessRun[] = [];
  const r: ProcessRun[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      s.push(runProcess(subject));
      r.push(runProcess(reference));
    } else {
      r.push(runProcess(reference));
      s.push(runProcess(subject));
    }
  }
  const wallRatios = s.map((run, i) => run.wallMs / r[i]!.wallMs);
  // CPU is counted in 10 ms steps; a reference that used less than one step is counted as one.
  const cpuRatios = s.map((run, i) => Math.max(run.cpuMs, 10) / Math.max(r[i]!.cpuMs, 10));
  const side = (label: string, runs: ProcessRun[]): Side => ({
    label,
    wallMs: median(runs.map((x) => x.wallMs)),
    cpuMs: median(runs.map((x) => x.cpuMs)),
    peakRssKiB: Math.max(...runs.map((x) => x.peakRssKiB)),
  });
  return {
    subject: side(subject.label, s),
    reference: side(reference.label, r),
    rounds,
    wallRatio: median(wallRatios),
    cpuRatio: median(cpuRatios),
    wallRatioQuartiles: [quantile(wallRatios, 0.25), quantile(wallRatios, 0.75)],
    load: { ...before, loadAfter: loadNow().load },
    subjectStdout: s.at(-1)!.stdout,
    referenceStdout: r.at(-1)!.stdout,
  };
}

export interface LoadState {
  readonly cores: number;
  /** 1, 5 and 15 minute load averages when the measurement started, and the 1-minute one when it ended. */
  readonly load: readonly number[];
  readonly loadAfter?: readonly number[];
}

function loadNow(): LoadState {
  return { cores: availableParallelism(), load: loadavg().map((x) => Math.round(x * 100) / 100) };
}

/** One line naming the machine, printed once at the top of a bench run. */
export function machineLine(): string {
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  const extraCa = process.env["NODE_EXTRA_CA_CERTS"] ? `, NODE_EXTRA_CA_CERTS=${process.env["NODE_EXTRA_CA_CERTS"]}` : "";
  return `machine: ${availableParallelism()} cores (${cpu}), Node ${process.version}${extraCa}, ${new Date().toISOString()}`;
}

/**
 * Node 20 reads and parses the whole NODE_EXTRA_CA_CERTS file at every start, before any of a program's code runs
 * (Node 24 waits for the first TLS connection): where the machine sets it, a Node program pays for it and a Go or
 * Rust reference does not. The same pair without it, to print beside the figure (never instead of it).
 */
export function withoutExtraCaCerts(command: Command): Command | undefined {
  const env = command.env ?? process.env;
  if (!env["NODE_EXTRA_CA_CERTS"]) return undefined;
  const { NODE_EXTRA_CA_CERTS: _ignored, ...rest } = env;
  return { ...command, label: `${command.label} (NODE_EXTRA_CA_CERTS unset)`, env: rest };
}

const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`);
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;

export function describeSide(side: Side): string {
  return `${side.label}: ${ms(side.wallMs)} wall, ${ms(side.cpuMs)} CPU, peak RSS ${mib(side.peakRssKiB)}`;
}

export function describeLoad(load: LoadState): string {
  return `${load.cores} cores, load ${load.load.join(" ")}${load.loadAfter ? ` → ${load.loadAfter[0]}` : ""}`;
}

/** The figure as printed: both sides' medians, the paired ratios and the load they were measured under. */
export function describePaired(result: Paired, goal?: string): string {
  const [q1, q3] = result.wallRatioQuartiles;
  return [
    `  ${describeSide(result.subject)}`,
    `  ${describeSide(result.reference)}`,
    `  ratio (median of ${result.rounds} paired rounds): wall ${result.wallRatio.toFixed(2)}x (quartiles ${q1.toFixed(2)}–${q3.toFixed(2)}), ` +
      `CPU ${result.cpuRatio.toFixed(2)}x${goal ? `; goal ${goal}` : ""}`,
    `  [${describeLoad(result.load)}]`,
  ].join("\n");
}
