import { formatConfigProblem, loadLocalConfig } from "../config/local-file.js";
import type { DigestaConfig } from "../config/schema.js";
import { availableParallelism } from "node:os";
import { scanDirectory, scanTree, type ScanTotals, type StreamingScanOptions } from "../scan/directory.js";
import type { ScanOptions, ScanReport } from "../scan/types.js";
import type { CliIo, CliOutput } from "./context.js";
import { UsageError } from "./errors.js";

/** The options `scan`, `update` and `check` share: which files, and which configuration. */
export interface CheckoutOptions {
  readonly include?: string[];
  readonly exclude?: string[];
  /** `--config FILE` gives a path; `--no-config` gives false. */
  readonly config?: string | false;
}

/** A checkout's settings: the configuration in force and where it came from. */
export interface CheckoutSettings {
  readonly config: DigestaConfig;
  /** `.github/digesta.yml`, the `--config` file, or undefined for the defaults. */
  readonly file?: string;
}

/** Reads the checkout's `.github/digesta.yml` (or `--config FILE`, or nothing with `--no-config`), as the app does. */
export async function loadCheckoutSettings(context: CliIo, dir: string, options: CheckoutOptions): Promise<CheckoutSettings> {
  const loaded = await loadLocalConfig(dir, {
    ...(typeof options.config === "string" ? { file: options.config } : {}),
    ...(options.config === false ? { none: true } : {}),
  });
  for (const note of loaded.notes) context.stderr.write(`note: ${note}\n`);
  if (!loaded.ok) {
    const fix = typeof options.config === "string" ? "" : " (fix it, or run with --no-config)";
    throw new UsageError(`the configuration is not valid${fix}:`, loaded.problems.map(formatConfigProblem));
  }
  return { config: loaded.config, ...(loaded.source.kind === "file" ? { file: loaded.source.file } : {}) };
}

/**
 * The scan the configuration and the flags ask for: `--include` replaces the configuration's `paths.include`,
 * `--exclude` adds to its `paths.exclude`. Files are read on every core (up to four), or on DIGESTA_SCAN_THREADS.
 */
export function checkoutScanOptions(settings: CheckoutSettings, options: CheckoutOptions): ScanOptions {
  const { paths } = settings.config;
  const configured = paths.include.length === 1 && paths.include[0] === "**" ? [] : paths.include;
  const include = options.include?.length ? options.include : configured;
  const exclude = [...paths.exclude, ...(options.exclude ?? [])];
  return { ...(include.length ? { include } : {}), ...(exclude.length ? { exclude } : {}), threads: scanThreads() };
}

/** MAX_SCAN_THREADS beyond which more threads only contend for the same directory locks and page cache. */
const MAX_SCAN_THREADS = 4;

function scanThreads(): number {
  const asked = process.env["DIGESTA_SCAN_THREADS"];
  if (asked !== undefined && asked !== "") {
    const threads = Number(asked);
    if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`DIGESTA_SCAN_THREADS takes a whole number of at least 1, not "${asked}"`);
    return threads;
  }
  return Math.min(availableParallelism(), MAX_SCAN_THREADS);
}

/**
 * Scans the checkout, then warns of what would otherwise pass for "nothing pinned": an include pattern that
 * matched no file, or a directory with no file to scan. Returns the report and whether such a warning was given
 * (the commands then exit 2, never 0: a false green is the worst answer a check can give).
 */
export async function scanCheckout(
  context: CliOutput,
  dir: string,
  scan: ScanOptions,
  settings: CheckoutSettings,
  options: CheckoutOptions,
): Promise<{ report: ScanReport; warned: boolean }> {
  const report = await withProgress(context, (onProgress) => scanDirectory(dir, { ...scan, onProgress }));
  return { report, warned: warnOfNothingScanned(context, dir, report, settings, options) };
}

/** `scanCheckout` for a command that prints each file's findings as they come (`scan`), holding none of them. */
export async function streamCheckout(
  context: CliOutput,
  dir: string,
  scan: StreamingScanOptions,
  settings: CheckoutSettings,
  options: CheckoutOptions,
): Promise<{ totals: ScanTotals; warned: boolean }> {
  const totals = await withProgress(context, (onProgress) => scanTree(dir, { ...scan, onProgress }));
  return { totals, warned: warnOfNothingScanned(context, dir, totals, settings, options) };
}

async function withProgress<T>(context: CliOutput, scan: (onProgress: (filesRead: number) => void) => Promise<T>): Promise<T> {
  context.progress.phase("reading files");
  return scan((filesRead) => context.progress.update(filesRead)).finally(() => context.progress.end());
}

function warnOfNothingScanned(context: CliIo, dir: string, totals: ScanTotals, settings: CheckoutSettings, options: CheckoutOptions): boolean {
  let warned = false;
  for (const pattern of totals.unmatchedIncludes) {
    const from = options.include?.length ? "--include" : `paths.include in ${settings.file ?? "the configuration"}`;
    context.stderr.write(`warning: ${from} ${JSON.stringify(pattern)} matched no file\n`);
    warned = true;
  }
  if (totals.filesScanned === 0) {
    context.stderr.write(`warning: no file to scan in ${JSON.stringify(dir)}${totals.skippedFiles.length ? ` (${totals.skippedFiles.length} not scanned)` : ""}\n`);
    warned = true;
  }
  return warned;
}
