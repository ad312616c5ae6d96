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
import { checkPinSignatures, verdictKey, type PinSignatureCheck } from "../../policy/signatures.js";
import type { Digest, ImageName } from "../../reference/types.js";
import type { Verdict } from "../../verify/types.js";
import { uncheckable, verdictLine } from "../verdict.js";
import { signatureRules, type VerifyFlags } from "../verify-settings.js";

export interface PinOptions extends CheckoutOptions, VerifyFlags {
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
  // Each digest a `verify` rule names is checked before it is written; with `required`, one that fails is held back.
  const signatures = await signatureRules(context.registry, settings.config.verify, options);
  let checked: PinSignatureCheck | undefined;
  if (signatures.source && scan.unpinned.length > 0) {
    context.progress.phase("checking signatures");
    checked = await checkPinSignatures(scan.unpinned, resolutions, signatures.source, { required: signatures.required }).finally(() => context.progress.end());
  }
  const verdicts = checked?.verdicts ?? new Map<string, Verdict>();
  const plan = planPins(scan, checked?.resolutions ?? resolutions);
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
        ...signatureJson(verdicts, p),
        occurrences: p.occurrences.map(placeJson),
      })),
      failed: plan.failed.map((f) => ({ image: imageKey(f.image), tag: f.tag, reason: f.reason, occurrences: f.occurrences.map(placeJson) })),
      heldBack: plan.heldBack.map((h) => ({
        image: imageKey(h.image),
        tag: h.tag,
        digest: h.digest,
        reason: h.reason,
        ...signatureJson(verdicts, h),
        occurrences: h.occurrences.map(placeJson),
      })),
      skipped: plan.unpinnable.map(unpinnableJson),
      files,
    });
  } else {
    printUnpinnable(context, plan.unpinnable);
    printPins(context, plan, options.dryRun ? "would pin" : "pinned", verdicts);
    for (const file of files.filter((f) => !f.ok)) context.stdout.write(`not written ${file.path}: ${file.error}\n`);
    summarisePins(context, report.filesScanned, plan);
  }
  // As `update`: a tag held back by the signature rules is the policy working (0), a signature that could not be checked is not (2).
  return warned || plan.failed.length > 0 || files.some((f) => !f.ok) || uncheckable(verdicts) ? ExitCode.Error : ExitCode.Ok;
}

function printPins(context: CliContext, plan: PinPlan, label: string, verdicts: ReadonlyMap<string, Verdict>): void {
  const out = context.stdout;
  for (const pin of plan.pins) {
    const where = pin.platform ? ` (${formatPlatform(pin.platform)})` : "";
    out.write(`${label}\t${formatReference({ ...pin.image, tag: pin.tag, digest: pin.digest })}${where}\t${placesOf(pin.occurrences)}\n`);
    const verdict = verdicts.get(verdictKey(pin.image, pin.digest));
    if (verdict) out.write(`${verdictLine(verdict, formatReference({ ...pin.image, digest: pin.digest }))}\n`);
  }
  for (const held of plan.heldBack) {
    const verdict = verdicts.get(verdictKey(held.image, held.digest));
    if (verdict) out.write(`${verdictLine(verdict, formatReference({ ...held.image, digest: held.digest }))}\n`);
    out.write(`held back\t${formatReference({ ...held.image, tag: held.tag })}\t${held.reason}\n`);
  }
  for (const failure of plan.failed) {
    out.write(`failed\t${formatReference({ ...failure.image, tag: failure.tag })}\t${failure.reason}\n`);
  }
}

function summarisePins(context: CliContext, filesScanned: number, plan: PinPlan): void {
  const references = plan.pins.reduce((n, p) => n + p.occurrences.length, 0);
  context.stderr.write(
    `${references} reference(s) to ${plan.pins.length} image(s) pinned, ${plan.failed.length} not looked up, ` +
      (plan.heldBack.length > 0 ? `${plan.heldBack.length} held back, ` : "") +
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

/** `signature` in the JSON, as `update --json` has it, for a digest a `verify` rule names. */
function signatureJson(verdicts: ReadonlyMap<string, Verdict>, pin: { readonly image: ImageName; readonly digest: Digest }): { signature?: Verdict } {
  const verdict = verdicts.get(verdictKey(pin.image, pin.digest));
  return verdict ? { signature: verdict } : {};
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
