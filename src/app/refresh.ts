import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import { loadRepositoryConfig } from "../config/load.js";
import type { ConfigProblem } from "../config/problems.js";
import type { DigestaConfig } from "../config/schema.js";
import { renderImageDiffs } from "../diff/markdown.js";
import { resolvePins } from "../engine/resolve.js";
import { confirmMoves } from "../engine/confirm.js";
import { downloadCheckout, type Checkout } from "../github/checkout.js";
import { closeConfigIssue, reportConfigProblems } from "../github/config-issue.js";
import { closeVanishedIssue, reportVanishedPins } from "../github/vanished-issue.js";
import { OwnIssues } from "../github/own-issue.js";
import { grantedPermissions } from "../github/permissions.js";
import { publishProposals, type BaseCommit, type Proposal, type PublishOutcome, type RepositoryRef } from "../github/publish.js";
import { proposalId, renderBody, renderTitle } from "../github/pull-request-text.js";
import type { ExtractLimits } from "../github/tarball.js";
import { planUpdates } from "../plan/plan.js";
import type { ImageUpdate, UpdatePlan } from "../plan/types.js";
import { COOLDOWN_REASON } from "../policy/cooldown.js";
import { checkSignatures, SIGNATURE_REASON } from "../policy/signatures.js";
import type { Verdict } from "../verify/types.js";
import { groupUpdates, updateKey, withoutFiles, type UpdateGroup } from "../policy/grouping.js";
import { createIgnoreMatcher } from "../policy/ignore.js";
import { familiarName, imageKey, shortDigest, tagKey } from "../reference/format.js";
import { applyDigestEdits } from "../rewrite/rewrite.js";
import { scanDirectory } from "../scan/directory.js";
import { joinPathBytes } from "../scan/names.js";
import { diffRequestOf, packageDiffs } from "../engine/package-diffs.js";
import { createUnpinnedCollector } from "../engine/pin.js";
import { proposePins } from "./pin-proposal.js";
import type { RegistrySession } from "./session.js";

export interface RefreshContext {
  /** Authenticated as the installation (app) or with a token (one-shot). */
  readonly octokit: ProbotOctokit;
  readonly repository: RepositoryRef;
  /** The default branch, when the trigger already says (saves a request). */
  readonly defaultBranch?: string;
  readonly session: RegistrySession;
  readonly log: Logger;
  /** digesta's own login (`name[bot]`), to find the issues it opened; optional. */
  readonly botLogin?: string;
  readonly limits?: { readonly extract?: ExtractLimits; readonly maxFileSize?: number };
  /** Overrides the token's word on the Workflows permission (one-shot runs). */
  readonly canWriteWorkflows?: boolean;
  readonly now?: () => Date;
  /** The configuration file's path in the repository (default `.github/digesta.yml`). */
  readonly configPath?: string;
  /** Read and plan only: no pull request, branch, issue or comment is written. */
  readonly dryRun?: boolean;
}

/** Images whose failure is told one by one; past them, the count says the rest. */
const MAX_REPORTED_FAILURES = 20;

export type RefreshOutcome =
  | { readonly status: "config-error"; readonly problems: readonly ConfigProblem[] }
  | { readonly status: "empty"; readonly schedule: string }
  | { readonly status: "disabled"; readonly schedule: string }
  | {
      readonly status: "done";
      readonly schedule: string;
      /** Pins moved by a pull request (not those only in files it had to leave out). */
      readonly updates: number;
      readonly failed: number;
      /** Why images could not be checked (the first MAX_REPORTED_FAILURES), as `registry/repository:tag`. */
      readonly failures: readonly { readonly image: string; readonly reason: string }[];
      readonly upToDate: number;
      /** Stale pins not moved because every place of theirs is a workflow the app may not change. */
      readonly leftOut: number;
      readonly pullRequests: readonly PublishOutcome[];
      /** The tags its pins follow (`registry/repository:tag`, ignored pins left out): a push of one refreshes it. */
      readonly followed: readonly string[];
    };

/**
 * One repository's refresh, the same for every trigger and for one-shot runs: load the configuration, fetch the
 * default branch as a tarball, scan it, resolve each pin, plan the edits, describe them, and publish.
 */
export async function refreshRepository(context: RefreshContext): Promise<RefreshOutcome> {
  const { octokit, repository, log } = context;
  const loaded = await loadRepositoryConfig(octokit, repository, context.configPath);
  // The configuration-error and vanished-pins issues: one listing for the run.
  const ownIssues = new OwnIssues(octokit, repository, context.botLogin ? { login: context.botLogin } : {});
  if (!loaded.ok) {
    if (context.dryRun) return { status: "config-error", problems: loaded.problems };
    const issue = await reportConfigProblems(ownIssues, loaded.problems);
    log.warn({ issue, problems: loaded.problems.length }, "configuration is broken; run stopped");
    return { status: "config-error", problems: loaded.problems };
  }
  const config = loaded.config;
  const base = await defaultBranchHead(octokit, repository, context.defaultBranch);
  if (!context.dryRun) await closeConfigIssue(ownIssues, base?.sha);
  if (!base) return { status: "empty", schedule: config.schedule };
  if (!config.enabled) return { status: "disabled", schedule: config.schedule };

  const checkout = await downloadCheckout(octokit, { ...repository, ref: base.sha }, context.limits?.extract);
  try {
    const ignored = createIgnoreMatcher(config.ignore);
    // `pin: true`: the same walk also finds the references written without a digest.
    const unpinned = config.pin ? createUnpinnedCollector(ignored) : undefined;
    const scan = await scanDirectory(checkout.root, {
      include: config.paths.include,
      exclude: config.paths.exclude,
      ...(context.limits?.maxFileSize ? { maxFileSize: context.limits.maxFileSize } : {}),
      ...(unpinned ? { onTextFile: unpinned.onTextFile } : {}),
    });
    const resolved = await resolvePins(scan.pinned, context.session.follower, { skip: ignored });
    const settled = await context.session.cooldown.apply(scan.pinned, resolved, {
      minAge: config.cooldown,
      now: context.now?.() ?? new Date(),
    });
    // Every pin proposed is moved to a digest the registry holds, confirmed once per digest (by the GET the package
    // diff then reads from the session's memo, or a HEAD); a dry run confirms too, so it shows what a run would write.
    const resolutions = await confirmMoves(scan.pinned, settled, context.session.reader, {
      read: config.diff.enabled && context.session.diff !== undefined,
      concurrency: 8,
    });
    // Each new digest a `verify` rule names is checked before it is proposed; with `required`, one that fails is held back.
    const signatures = context.session.signatures(config.verify);
    const checked = signatures ? await checkSignatures(scan.pinned, resolutions, signatures, { required: config.verify.required }) : undefined;
    const plan = planUpdates(scan, checked?.resolutions ?? resolutions);
    const groups = groupUpdates(plan, config.group);
    const verdicts = checked?.verdicts ?? new Map<string, Verdict>();
    const proposals = await Promise.all(groups.map((group) => propose(group, plan, checkout, config, context, verdicts)));
    const pins = unpinned ? await proposePins(unpinned.result(), checkout, config, context.session) : undefined;
    if (pins) proposals.push(pins);
    // A dry run stops here: what would be proposed is planned, nothing is written.
    const pullRequests = context.dryRun ? [] : await publish(base, proposals, config, context);
    const notMoved = new Set(pullRequests.flatMap((pull) => ("notMoved" in pull ? (pull.notMoved ?? []) : [])));
    const updates = plan.updates.filter((update) => !notMoved.has(updateKey(update))).length;
    const leftOut = plan.updates.length - updates;
    if (!context.dryRun) {
      // Vanished pins no pull request carries (nothing to update beside them) get an issue: a deploy from them fails.
      const unreported = groups.filter((g) => g.updates.length === 0).flatMap((g) => g.vanished);
      if (unreported.length > 0) await reportVanishedPins(ownIssues, unreported);
      else await closeVanishedIssue(ownIssues, base.sha);
    }
    const failures = plan.failed.slice(0, MAX_REPORTED_FAILURES).map((f) => ({ image: tagKey(f.image, f.tag), reason: f.reason }));
    for (const failure of failures) log.warn(failure, "image could not be checked");
    log.info(
      { files: scan.filesScanned, pins: scan.pinned.length, updates, leftOut, failed: plan.failed.length, vanished: plan.vanished.length },
      "repository refreshed",
    );
    return {
      status: "done",
      schedule: config.schedule,
      updates,
      leftOut,
      failed: plan.failed.length,
      failures,
      upToDate: plan.upToDate.length,
      pullRequests,
      followed: [...new Set(scan.pinned.flatMap(({ reference: ref }) => (ref.tag && !ignored(ref) ? [tagKey(ref, ref.tag)] : [])))],
    };
  } finally {
    await checkout.dispose();
  }
}

async function publish(base: BaseCommit, proposals: readonly Proposal[], config: DigestaConfig, context: RefreshContext): Promise<PublishOutcome[]> {
  const { octokit, repository, log } = context;
  const canWriteWorkflows = context.canWriteWorkflows ?? (await grantedPermissions(octokit)).workflows;
  return publishProposals(octokit, repository, base, proposals, {
    labels: config.labels,
    reviewers: config.reviewers,
    teamReviewers: config.teamReviewers,
    canWriteWorkflows,
    grouping: config.group,
    pin: config.pin,
    log,
  });
}

async function defaultBranchHead(octokit: ProbotOctokit, repository: RepositoryRef, known?: string): Promise<BaseCommit | undefined> {
  const branch = known ?? (await octokit.rest.repos.get({ ...repository })).data.default_branch;
  try {
    const found = await octokit.rest.repos.getBranch({ ...repository, branch });
    return { branch, sha: found.data.commit.sha, treeSha: found.data.commit.commit.tree.sha };
  } catch (error) {
    // An empty repository has no branch yet.
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}

/** The new content of each file of a group, and how to word its pull request. */
async function propose(
  group: UpdateGroup,
  plan: UpdatePlan,
  checkout: Checkout,
  config: DigestaConfig,
  context: RefreshContext,
  signatures: ReadonlyMap<string, Verdict>,
): Promise<Proposal> {
  const files = new Map<string, { content: Uint8Array; executable: boolean }>();
  for (const [relative, edits] of group.edits) {
    const text = await readFile(joinPathBytes(checkout.root, relative), "latin1");
    files.set(relative, { content: Buffer.from(applyDigestEdits(text, edits), "latin1"), executable: checkout.summary.executable.has(relative) });
  }
  const builtAt = await buildTimes(group.updates, config, context);
  const differ = config.diff.enabled ? context.session.diff : undefined;
  const diffs = differ
    ? await packageDiffs(
        group.updates.map((update) => diffRequestOf(update, config.diff.platform)),
        differ,
        context.log,
      )
    : [];
  const heldBack = heldBackIn(group, plan);
  return {
    branch: group.branch,
    changes: group.updates.map(updateKey),
    files,
    describe: (leftOut) => {
      // Only what the commit changes is listed as moving: a move whose every place is a left-out file is listed apart.
      const { group: committed, notMoved } = withoutFiles(group, leftOut);
      const moving = new Set(committed.updates.map((u) => `${imageKey(u.image)}@${u.from}..${u.to}`));
      const shown = diffs.filter((d) => moving.has(`${d.image}@${d.from}..${d.to}`));
      const body = renderBody({
        group: committed,
        builtAt,
        leftOut,
        notMoved,
        heldBack,
        signatures,
        ...(shown.length > 0 ? { renderDiffs: (budget: number) => renderImageDiffs(shown, { budget, heading: "### Package changes" }) } : {}),
      });
      return {
        title: committed.updates.length > 0 ? renderTitle(committed) : "",
        body,
        commitLines: committed.updates.map((u) => `${familiarName(u.image)}:${u.tag}: ${shortDigest(u.from)} → ${shortDigest(u.to)}`),
        id: proposalId(committed.updates),
        notMoved: notMoved.map(updateKey),
      };
    },
  };
}

async function buildTimes(updates: readonly ImageUpdate[], config: DigestaConfig, context: RefreshContext): Promise<Map<string, Date>> {
  const lookup = context.session.builtAt(config.diff.platform);
  const times = new Map<string, Date>();
  await Promise.all(
    updates.map(async (update) => {
      const built = await lookup(update.image, update.to);
      if (built) times.set(`${imageKey(update.image)}@${update.to}`, built);
    }),
  );
  return times;
}

/** Skips that are a policy holding a digest back (listed under "Held back"), not pins left alone by `ignore`. */
const HELD_BACK_REASONS = [COOLDOWN_REASON, SIGNATURE_REASON];

function heldBackIn(group: UpdateGroup, plan: UpdatePlan): { name: string; reason: string }[] {
  const held = new Map<string, string>();
  for (const skipped of plan.skipped) {
    if (!HELD_BACK_REASONS.some((prefix) => skipped.reason.startsWith(prefix))) continue;
    const ref = skipped.reference;
    if (!ref) continue;
    if (group.key !== "all" && group.key !== imageKey(ref)) continue;
    held.set(`${familiarName(ref)}${ref.tag ? `:${ref.tag}` : ""}`, skipped.reason);
  }
  return [...held].map(([name, reason]) => ({ name, reason }));
}
