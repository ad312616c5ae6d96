import type { NotScannedFile, PinnedOccurrence, SkippedOccurrence } from "../../scan/types.js";
import type { FileFindings } from "../../scan/directory.js";
import { displayPath } from "../../scan/names.js";
import { checkoutScanOptions, loadCheckoutSettings, streamCheckout, type CheckoutOptions } from "../checkout.js";
import type { CliIo, CliOutput } from "../context.js";
import { ChunkedWriter } from "../output.js";
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

/**
 * Prints each pin as soon as the files before it have been read, in path order, so memory does not grow with the
 * tree. `--json` writes, a piece at a time, exactly what `JSON.stringify(pins, null, 2)` would.
 */
export async function scanCommand(context: CliOutput, dir: string, options: CheckoutOptions & { json?: boolean }): Promise<number> {
  const settings = await loadCheckoutSettings(context, dir, options);
  const out = new ChunkedWriter(context.stdout);
  const skipped: SkippedOccurrence[] = [];
  let pinned = 0;
  const onFindings = (file: FileFindings) => {
    for (const pin of file.pinned) {
      if (options.json) out.write(`${pinned === 0 ? "[\n" : ",\n"}${candidateArrayItem(pin)}`);
      else out.write(`${displayPath(pin.path)}:${pin.line}:${pin.column}\t${pin.text}\n`);
      pinned++;
    }
    skipped.push(...file.skipped);
  };
  const { totals, warned } = await streamCheckout(context, dir, { ...checkoutScanOptions(settings, options), onFindings }, settings, options);
  if (options.json) {
    out.write(pinned === 0 ? "[]\n" : "\n]\n");
    out.flush();
    // The JSON stays a list of pins for the scripts that read it; the files left unread are still named.
    listNotScanned(context, totals.skippedFiles);
  } else {
    out.flush();
    summarise(context, { pinned, skipped, filesScanned: totals.filesScanned, skippedFiles: totals.skippedFiles });
  }
  return warned ? ExitCode.Error : ExitCode.Ok;
}

/**
 * `candidateJson(pin)` as `JSON.stringify(array, null, 2)` writes it as an array item, built directly: the
 * indenting stringify is several times slower, and a scan may print tens of thousands of these.
 */
function candidateArrayItem(pin: PinnedOccurrence): string {
  const { reference } = pin;
  return (
    `  {\n    "path": ${jsonString(pin.path)},\n    "line": ${pin.line},\n    "column": ${pin.column},\n    "reference": ${jsonString(pin.text)},` +
    `\n    "registry": ${jsonString(reference.registry)},\n    "repository": ${jsonString(reference.repository)},\n    "tag": ${jsonString(reference.tag)},` +
    `\n    "digest": ${jsonString(reference.digest)}\n  }`
  );
}

/** Printable ASCII other than `"` and `\\`: what JSON.stringify leaves as it is. */
const PLAIN_JSON = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function jsonString(value: string): string {
  return PLAIN_JSON.test(value) ? `"${value}"` : JSON.stringify(value);
}

/** The JSON form of a file not scanned (`path` escaped as in `candidateJson`: see the README). */
export function notScannedJson(file: NotScannedFile) {
  return { path: file.path, kind: file.kind, reason: file.reason };
}

function listNotScanned(context: CliIo, files: readonly NotScannedFile[]): void {
  for (const file of files) context.stderr.write(`not scanned ${displayPath(file.path)}: ${file.reason}\n`);
}

/** What a scan found, for the summary on stderr: pins counted, references skipped with why, files left unread. */
export interface ScanSummary {
  readonly pinned: number;
  readonly skipped: readonly SkippedOccurrence[];
  readonly filesScanned: number;
  readonly skippedFiles: readonly NotScannedFile[];
}

export function summarise(context: CliIo, report: ScanSummary): void {
  for (const skipped of report.skipped) {
    context.stderr.write(`skipped ${displayPath(skipped.path)}:${skipped.line}:${skipped.column} ${skipped.text}: ${skipped.reason}\n`);
  }
  context.stderr.write(
    `${report.pinned} pinned reference(s) in ${report.filesScanned} file(s)` + (report.skippedFiles.length ? `, ${report.skippedFiles.length} file(s) not scanned` : "") + "\n",
  );
  listNotScanned(context, report.skippedFiles);
}
