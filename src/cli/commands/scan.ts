import { scanDirectory } from "../../scan/directory.js";
import type { ScanOptions, ScanReport } from "../../scan/types.js";
import type { PinnedOccurrence } from "../../scan/types.js";
import type { CliContext } from "../context.js";
import { writeJson } from "../context.js";
import { ExitCode } from "../errors.js";

export interface PathOptions {
  readonly include?: string[];
  readonly exclude?: string[];
}

export function scanOptions(options: PathOptions): ScanOptions {
  return {
    ...(options.include?.length ? { include: options.include } : {}),
    ...(options.exclude?.length ? { exclude: options.exclude } : {}),
  };
}

/** The JSON form of one candidate, stable for scripts. */
export function candidateJson(pin: PinnedOccurrence) {
  return {
    path: pin.path,
    line: pin.line,
    column: pin.column,
    reference: pin.text,
    registry: pin.reference.registry,
    repository: pin.reference.repository,
    tag: pin.reference.tag,
    digest: pin.reference.digest,
  };
}

export async function scanCommand(context: CliContext, dir: string, options: PathOptions & { json?: boolean }): Promise<number> {
  const report = await scanDirectory(dir, scanOptions(options));
  if (options.json) {
    writeJson(context, report.pinned.map(candidateJson));
    return ExitCode.Ok;
  }
  for (const pin of report.pinned) context.stdout.write(`${pin.path}:${pin.line}:${pin.column}\t${pin.text}\n`);
  summarise(context, report);
  return ExitCode.Ok;
}

export function summarise(context: CliContext, report: ScanReport): void {
  for (const skipped of report.skipped) {
    context.stderr.write(`skipped ${skipped.path}:${skipped.line}:${skipped.column} ${skipped.text}: ${skipped.reason}\n`);
  }
  context.stderr.write(
    `${report.pinned.length} pinned reference(s) in ${report.filesScanned} file(s)` +
      (report.skippedFiles.length ? `, ${report.skippedFiles.length} file(s) not scanned` : "") +
      "\n",
  );
}
