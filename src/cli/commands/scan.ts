import type { NotScannedFile, PinnedOccurrence, ScanReport } from "../../scan/types.js";
import { displayPath } from "../../scan/names.js";
import { checkoutScanOptions, loadCheckoutSettings, scanCheckout, type CheckoutOptions } from "../checkout.js";
import type { CliIo, CliOutput } from "../context.js";
import { writeJson } from "../context.js";
import { ExitCode } from "../errors.js";

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

export async function scanCommand(context: CliOutput, dir: string, options: CheckoutOptions & { json?: boolean }): Promise<number> {
  const settings = await loadCheckoutSettings(context, dir, options);
  const { report, warned } = await scanCheckout(context, dir, checkoutScanOptions(settings, options), settings, options);
  if (options.json) {
    writeJson(context, report.pinned.map(candidateJson));
    // The JSON stays a list of pins for the scripts that read it; the files left unread are still named.
    listNotScanned(context, report.skippedFiles);
  } else {
    for (const pin of report.pinned) context.stdout.write(`${displayPath(pin.path)}:${pin.line}:${pin.column}\t${pin.text}\n`);
    summarise(context, report);
  }
  return warned ? ExitCode.Error : ExitCode.Ok;
}

/** The JSON form of a file not scanned (`path` escaped as in `candidateJson`: see the README). */
export function notScannedJson(file: NotScannedFile) {
  return { path: file.path, kind: file.kind, reason: file.reason };
}

function listNotScanned(context: CliIo, files: readonly NotScannedFile[]): void {
  for (const file of files) context.stderr.write(`not scanned ${displayPath(file.path)}: ${file.reason}\n`);
}

export function summarise(context: CliIo, report: ScanReport): void {
  for (const skipped of report.skipped) {
    context.stderr.write(`skipped ${displayPath(skipped.path)}:${skipped.line}:${skipped.column} ${skipped.text}: ${skipped.reason}\n`);
  }
  context.stderr.write(
    `${report.pinned.length} pinned reference(s) in ${report.filesScanned} file(s)` +
      (report.skippedFiles.length ? `, ${report.skippedFiles.length} file(s) not scanned` : "") +
      "\n",
  );
  listNotScanned(context, report.skippedFiles);
}
