import { createPackageListCache } from "../../diff/cache.js";
import { diffImages } from "../../diff/image-diff.js";
import { renderImageDiffText } from "../../diff/markdown.js";
import type { ImageDiff } from "../../diff/types.js";
import { rewriteFiles, type FileWriteResult } from "../../engine/files.js";
import { resolvePins } from "../../engine/resolve.js";
import { planUpdates } from "../../plan/plan.js";
import type { ImageUpdate, UpdatePlan } from "../../plan/types.js";
import { formatPlatform, formatReference, imageKey, shortDigest } from "../../reference/format.js";
import type { Platform } from "../../reference/types.js";
import type { UnpinnedScan } from "../../pin/types.js";
import { createPinFollower } from "../../registry/follow.js";
import { memoizeManifests, type ManifestMemo } from "../../registry/manifest-memo.js";
import { confirmMoves } from "../../engine/confirm.js";
import { createBuildTimeLookup } from "../../policy/build-time.js";
import { createCooldown } from "../../policy/cooldown.js";
import { createIgnoreMatcher } from "../../policy/ignore.js";
import { checkoutScanOptions, loadCheckoutSettings, scanCheckout, type CheckoutOptions, type CheckoutSettings } from "../checkout.js";
import { createUnpinnedCollector, type UnpinnedCollector } from "../../engine/pin.js";
import type { CliContext } from "../context.js";
import { placesOf } from "../places.js";
import { printUnpinnable, printUnpinned, unpinnableJson, unpinnedJson } from "./pin.js";
import { progress, writeJson } from "../context.js";
import { ExitCode, UsageError } from "../errors.js";
import { parsePlatform } from "../platform.js";
import { notScannedJson, summarise } from "./scan.js";
import { unreadFiles } from "../../scan/not-scanned.js";
import { displayPath } from "../../scan/names.js";
import type { ScanReport } from "../../scan/types.js";
import { diffRequestOf, packageDiffs, type ImageDiffer } from "../../engine/package-diffs.js";
import { DEFAULT_PLATFORM } from "../../diff/platform.js";
import { withVulnerabilities } from "../../engine/vulnerabilities.js";
import { vulnerabilitySources } from "../vulnerabilities.js";
import { checkSignatures, SIGNATURE_REASON } from "../../policy/signatures.js";
import { COOLDOWN_REASON } from "../../policy/cooldown.js";
import type { Verdict } from "../../verify/types.js";
import { uncheckable, verdictLine } from "../verdict.js";
import { signatureRules, type VerifyFlags } from "../verify-settings.js";

export interface UpdateOptions extends CheckoutOptions, VerifyFlags {
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly before?: string;
  readonly diff?: boolean;
  readonly platform?: string;
  readonly concurrency?: string;
}

interface PlannedCheckout {
  readonly settings: CheckoutSettings;
  readonly plan: UpdatePlan;
  readonly report: ScanReport;
  /** A warning was given that makes the answer untrustworthy (an include matching nothing, nothing to scan). */
  readonly warned: boolean;
  /** `check --unpinned`: the tagged references written without a digest. */
  readonly unpinned?: UnpinnedScan;
  /** The signature verdict on each proposed digest a `verify` rule names, by `registry/repository@digest`. */
  readonly verdicts: ReadonlyMap<string, Verdict>;
  /** The run's registry, each manifest read at most once (the follower's reads serve the package diffs). */
  readonly reader: ManifestMemo;
}

/** `update` shows the package changes of each move unless --no-diff or the configuration turns them off. */
const showsDiffs = (options: UpdateOptions, settings: CheckoutSettings): boolean => options.diff !== false && settings.config.diff.enabled;

/**
 * Read the configuration, scan, resolve each unique pin once (leaving alone what the configuration ignores, holding
 * back what its cooldown holds back), plan: what the app does on the same tree. Shared by `update` and `check`; with
 * `writes` (update, and its dry run, which shows what it would write), each digest a pin would move to is first
 * confirmed to be one the registry holds.
 */
async function planCheckout(
  context: CliContext,
  dir: string,
  options: UpdateOptions,
  how: { readonly writes: boolean; readonly unpinned?: (settings: CheckoutSettings) => UnpinnedCollector },
): Promise<PlannedCheckout | undefined> {
  const before = options.before === undefined ? undefined : parseTime(options.before);
  const concurrency = options.concurrency ? positiveInteger(options.concurrency, "--concurrency") : undefined;
  const settings = await loadCheckoutSettings(context, dir, options);
  const { config } = settings;
  if (!config.enabled) {
    context.stderr.write(`digesta is turned off for this checkout (enabled: false in ${settings.file}); nothing checked\n`);
    return undefined;
  }
  const scan = checkoutScanOptions(settings, options);
  const collector = how.unpinned?.(settings);
  const { report, warned } = await scanCheckout(context, dir, collector ? { ...scan, onTextFile: collector.onTextFile } : scan, settings, options);
  if (!options.json) summarise(context, { ...report, pinned: report.pinned.length });
  const reader = memoizeManifests(context.registry);
  const follower = createPinFollower(reader, { logger: context.logger });
  let resolutions = await resolvePins(report.pinned, follower, {
    skip: createIgnoreMatcher(config.ignore),
    ...(concurrency ? { concurrency } : {}),
    ...(before ? { before: { time: before, registry: reader } } : {}),
    ...withProgress(context),
  }).finally(() => context.progress.end());
  if (config.cooldown > 0 && !before) {
    context.progress.phase("checking the cooldown");
    const cooldown = createCooldown(reader, follower, createBuildTimeLookup(reader, config.diff.platform));
    resolutions = await cooldown.apply(report.pinned, resolutions, { minAge: config.cooldown, now: new Date() }).finally(() => context.progress.end());
  }
  if (how.writes) {
    // Once per distinct digest, by the GET the package diff makes next when it does (it reads it from the memo).
    context.progress.phase("confirming the new digests");
    resolutions = await confirmMoves(report.pinned, resolutions, reader, {
      read: showsDiffs(options, settings),
      ...(concurrency ? { concurrency } : {}),
    }).finally(() => context.progress.end());
  }
  // Each new digest a `verify` rule names is checked before it is proposed; with `required`, one that fails is held back.
  const signatures = await signatureRules(context.registry, config.verify, options);
  let verdicts = new Map<string, Verdict>();
  if (signatures.source) {
    context.progress.phase("checking signatures");
    const checked = await checkSignatures(report.pinned, resolutions, signatures.source, { required: signatures.required }).finally(() => context.progress.end());
    resolutions = checked.resolutions;
    verdicts = checked.verdicts;
  }
  // A file nobody could read may hold a stale pin: the tree cannot be vouched for.
  return {
    settings,
    plan: planUpdates(report, resolutions),
    report,
    verdicts,
    reader,
    warned: warned || unreadFiles(report.skippedFiles).length > 0,
    ...(collector ? { unpinned: collector.result() } : {}),
  };
}

function withProgress(context: CliContext) {
  const onProgress = progress(context, "resolving tags");
  return onProgress ? { onProgress } : {};
}

export async function updateCommand(context: CliContext, dir: string, options: UpdateOptions): Promise<number> {
  const wanted = options.platform ? parsePlatform(options.platform) : undefined;
  const planned = await planCheckout(context, dir, options, { writes: true });
  if (!planned) return ExitCode.Ok;
  const { plan, settings, report, verdicts, reader } = planned;
  const platform = wanted ?? settings.config.diff.platform;
  const files = options.dryRun ? [] : await rewriteFiles(dir, plan, report.fingerprints);
  const diffs = showsDiffs(options, settings) ? await diffUpdates(context, reader, plan.updates, platform) : [];
  context.progress.end();

  if (options.json) {
    writeJson(context, { dryRun: Boolean(options.dryRun), ...planJson(plan, report, verdicts), files, diffs });
  } else {
    printPlan(context, plan, options.dryRun ? "would update" : "updated", verdicts);
    for (const file of files.filter((f) => !f.ok)) context.stdout.write(`not written ${displayPath(file.path)}: ${file.error}\n`);
    for (const diff of diffs) context.stdout.write(`\n${renderImageDiffText(diff)}\n`);
  }
  if (planned.warned || plan.failed.length > 0 || files.some((f) => !f.ok) || uncheckable(verdicts)) return ExitCode.Error;
  // A vanished pin the tag could not move needs a person: not all is well.
  return plan.vanished.some((v) => v.movedTo === undefined) ? ExitCode.Stale : ExitCode.Ok;
}

/**
 * Exit 1 when a pin is stale (or, with --unpinned, a tagged reference has no digest) and every image could be
 * checked; 2 when some could not (both are reported).
 */
export async function checkCommand(context: CliContext, dir: string, options: UpdateOptions & { unpinned?: boolean }): Promise<number> {
  // --unpinned: the same walk also finds tagged references written without a digest.
  const collect = options.unpinned ? (settings: CheckoutSettings) => createUnpinnedCollector(createIgnoreMatcher(settings.config.ignore)) : undefined;
  // Read-only: a stale pin is reported from what its tag names; whether the registry still holds the platform image an
  // index names is confirmed by update, which leaves a pin alone and fails when it does not.
  const planned = await planCheckout(context, dir, options, { writes: false, ...(collect ? { unpinned: collect } : {}) });
  if (!planned) return ExitCode.Ok;
  const { plan, report, unpinned, verdicts } = planned;
  if (options.json) {
    writeJson(context, {
      ...planJson(plan, report, verdicts),
      ...(unpinned ? { unpinned: unpinned.unpinned.map(unpinnedJson), unpinnable: unpinned.unpinnable.map(unpinnableJson) } : {}),
    });
  } else {
    printPlan(context, plan, "stale", verdicts);
    if (unpinned) {
      printUnpinned(context, unpinned.unpinned);
      printUnpinnable(context, unpinned.unpinnable);
    }
  }
  // A stale pin beside an image that could not be checked is still an incomplete answer.
  if (planned.warned || plan.failed.length > 0 || uncheckable(verdicts)) return ExitCode.Error;
  const stale = plan.updates.length > 0 || plan.vanished.length > 0 || (unpinned?.unpinned.length ?? 0) > 0;
  return stale ? ExitCode.Stale : ExitCode.Ok;
}

function diffUpdates(context: CliContext, reader: ManifestMemo, updates: readonly ImageUpdate[], platform: Platform): Promise<ImageDiff[]> {
  // Images of one repository, or on one base, share layers: each is read once for all the diffs.
  const cache = createPackageListCache();
  const onProgress = updates.length > 0 ? progress(context, "diffing images") : undefined;
  let diffed = 0;
  onProgress?.(0, updates.length);
  const differ: ImageDiffer = withVulnerabilities(
    (image, tag, from, to, wanted) =>
      diffImages(reader, image, from, to, { platform: wanted, tag, cache, logger: context.logger }).finally(() => onProgress?.(++diffed, updates.length)),
    vulnerabilitySources(context, reader),
    context.logger,
  );
  return packageDiffs(
    updates.map((update) => diffRequestOf(update, platform)),
    differ,
    context.logger,
  );
}

function printPlan(context: CliContext, plan: UpdatePlan, movedLabel: string, verdicts: ReadonlyMap<string, Verdict>): void {
  const out = context.stdout;
  // First: a deploy from these fails, or nothing can move them.
  for (const gone of plan.vanished) {
    out.write(`vanished	${formatReference({ ...gone.image, tag: gone.tag, digest: gone.digest })}	${gone.reason}	${placesOf(gone.occurrences)}
`);
  }
  for (const update of plan.updates) {
    const where = update.platform ? ` (${formatPlatform(update.platform)})` : "";
    out.write(
      `${movedLabel}\t${formatReference({ ...update.image, tag: update.tag })}${where}\t${shortDigest(update.from)} → ${shortDigest(update.to)}\t${placesOf(update.occurrences)}\n`,
    );
    const verdict = verdicts.get(`${imageKey(update.image)}@${update.to}`);
    if (verdict) out.write(`${verdictLine(verdict, formatReference({ ...update.image, digest: update.to }))}\n`);
  }
  // What a policy held back (cooldown, a signature that did not verify), once per image and tag.
  const held = new Map<string, string>();
  for (const skipped of plan.skipped) {
    if (!skipped.reference || ![COOLDOWN_REASON, SIGNATURE_REASON].some((prefix) => skipped.reason.startsWith(prefix))) continue;
    held.set(formatReference({ ...skipped.reference, digest: undefined }), skipped.reason);
  }
  for (const [reference, reason] of held) out.write(`held back\t${reference}\t${reason}\n`);
  for (const pin of plan.upToDate) out.write(`up to date\t${formatReference({ ...pin.image, tag: pin.tag })}\n`);
  for (const failure of plan.failed) {
    out.write(`failed\t${formatReference({ ...failure.image, tag: failure.tag })}\t${failure.reason}\n`);
  }
}

function planJson(plan: UpdatePlan, report: ScanReport, verdicts: ReadonlyMap<string, Verdict>) {
  const places = (occurrences: readonly { path: string; line: number; column: number }[]) =>
    occurrences.map(({ path, line, column }) => ({ path, line, column }));
  return {
    updated: plan.updates.map((u) => ({
      image: imageKey(u.image),
      tag: u.tag,
      from: u.from,
      to: u.to,
      kind: u.kind,
      ...(u.platform ? { platform: formatPlatform(u.platform) } : {}),
      ...(verdicts.has(`${imageKey(u.image)}@${u.to}`) ? { signature: verdicts.get(`${imageKey(u.image)}@${u.to}`) } : {}),
      occurrences: places(u.occurrences),
    })),
    upToDate: plan.upToDate.map((p) => ({ image: imageKey(p.image), tag: p.tag, digest: p.digest, occurrences: places(p.occurrences) })),
    failed: plan.failed.map((f) => ({ image: imageKey(f.image), tag: f.tag, digest: f.digest, reason: f.reason, occurrences: places(f.occurrences) })),
    vanished: plan.vanished.map((v) => ({
      image: imageKey(v.image),
      tag: v.tag,
      digest: v.digest,
      vanished: v.vanished,
      reason: v.reason,
      ...(v.movedTo ? { movedTo: v.movedTo } : {}),
      occurrences: places(v.occurrences),
    })),
    skipped: plan.skipped.map((s) => ({ path: s.path, line: s.line, column: s.column, reference: s.text, reason: s.reason })),
    notScanned: report.skippedFiles.map(notScannedJson),
  };
}

export function parseTime(text: string): Date {
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) {
    throw new UsageError(`--before "${text}" is not a time; give an ISO 8601 time such as 2026-11-01T00:00:00Z`);
  }
  return time;
}

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${flag} takes a whole number of at least 1, not "${text}"`);
  return value;
}

export type { FileWriteResult };
