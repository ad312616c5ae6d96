import { createUnpinnedCollector, resolveTags, writePins } from "../../engine/pin.js";
import { createIgnoreMatcher } from "../../policy/ignore.js";
import { planPins, type PinPlan } from "../../pin/plan.js";
import type { UnpinnableOccurrence, UnpinnedOccurrence } from "../../pin/types.js";
import { formatPlatform, formatReference, imageKey } from "../../reference/format.js";
import type { CliContext } from "../context.js";
import { progress, writeJson } from "../context.js";
import { ExitCode } from "../errors.js";
import { parsePlatform } from "../platform.js";
import { checkoutScanOptions, loadCheckoutSettings, scanCheckout, type CheckoutOptions } from "../checkout.js";
import { placesOf } from "../places.js";

export interface PinOptions extends CheckoutOptions {
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly platform?: string;
}

/** `digesta pin`: append the current digest to every tagged reference the syntax makes certain. */
export async function pinCommand(context: CliContext, dir: string, options: PinOptions): Promise<number> {
  const platform = options.platform ? parsePlatform(options.platform) : undefined;
  const settings = await loadCheckoutSettings(context, dir, options);
  if (!settings.config.enabled) {
    context.stderr.write(`digesta is turned off for this checkout (enabled: false in ${settings.file}); nothing pinned\n`);
    return ExitCode.Ok;
  }
  // The configuration's paths and ignore patterns apply as they do to updates.
  const collector = createUnpinnedCollector(createIgnoreMatcher(settings.config.ignore));
  const { report, warned } = await scanCheckout(context, dir, { ...checkoutScanOptions(settings, options), onTextFile: collector.onTextFile }, settings, options);
  const scan = collector.result();
  const onProgress = progress(context, "looking up");
  const resolutions = await resolveTags(scan.unpinned, context.registry, {
    ...(platform ? { platform } : {}),
    ...(onProgress ? { onProgress } : {}),
  });
  const plan = planPins(scan, resolutions);
  const files = options.dryRun ? [] : await writePins(dir, plan, scan.fileDigests);

  if (options.json) {
    writeJson(context, {
      dryRun: Boolean(options.dryRun),
      pinned: plan.pins.map((p) => ({
        image: imageKey(p.image),
        tag: p.tag,
        digest: p.digest,
        kind: p.kind,
        ...(p.platform ? { platform: formatPlatform(p.platform) } : {}),
        occurrences: p.occurrences.map(placeJson),
      })),
      failed: plan.failed.map((f) => ({ image: imageKey(f.image), tag: f.tag, reason: f.reason, occurrences: f.occurrences.map(placeJson) })),
      skipped: plan.unpinnable.map(unpinnableJson),
      files,
    });
  } else {
    printUnpinnable(context, plan.unpinnable);
    printPins(context, plan, options.dryRun ? "would pin" : "pinned");
    for (const file of files.filter((f) => !f.ok)) context.stdout.write(`not written ${file.path}: ${file.error}\n`);
    summarisePins(context, report.filesScanned, plan);
  }
  return warned || plan.failed.length > 0 || files.some((f) => !f.ok) ? ExitCode.Error : ExitCode.Ok;
}

function printPins(context: CliContext, plan: PinPlan, label: string): void {
  const out = context.stdout;
  for (const pin of plan.pins) {
    const where = pin.platform ? ` (${formatPlatform(pin.platform)})` : "";
    out.write(`${label}\t${formatReference({ ...pin.image, tag: pin.tag, digest: pin.digest })}${where}\t${placesOf(pin.occurrences)}\n`);
  }
  for (const failure of plan.failed) {
    out.write(`failed\t${formatReference({ ...failure.image, tag: failure.tag })}\t${failure.reason}\n`);
  }
}

function summarisePins(context: CliContext, filesScanned: number, plan: PinPlan): void {
  const references = plan.pins.reduce((n, p) => n + p.occurrences.length, 0);
  context.stderr.write(
    `${references} reference(s) to ${plan.pins.length} image(s) pinned, ${plan.failed.length} not looked up, ` +
      `${plan.unpinnable.length} skipped, in ${filesScanned} file(s)\n`,
  );
}

/** Unpinnable references, on stderr: they are notes, not results. */
export function printUnpinnable(context: CliContext, unpinnable: readonly UnpinnableOccurrence[]): void {
  for (const u of unpinnable) context.stderr.write(`skipped ${u.path}:${u.line}:${u.column} ${JSON.stringify(u.text)}: ${u.reason}\n`);
}

/** `check --unpinned`: one line per tagged reference without a digest. */
export function printUnpinned(context: CliContext, unpinned: readonly UnpinnedOccurrence[]): void {
  for (const u of unpinned) context.stdout.write(`unpinned\t${u.path}:${u.line}:${u.column}\t${u.text}\n`);
}

function placeJson(o: UnpinnedOccurrence) {
  return { path: o.path, line: o.line, column: o.column, reference: o.text, syntax: o.syntax };
}

export function unpinnedJson(o: UnpinnedOccurrence) {
  return { ...placeJson(o), image: imageKey(o.reference), tag: o.reference.tag };
}

export function unpinnableJson(o: UnpinnableOccurrence) {
  return { path: o.path, line: o.line, column: o.column, text: o.text, syntax: o.syntax, reason: o.reason };
}
