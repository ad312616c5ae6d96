import { readFile } from "node:fs/promises";
import pLimit from "p-limit";
import type { DigestaConfig } from "../config/schema.js";
import type { ImageContents } from "../diff/contents.js";
import { resolveTags, type UnpinnedFiles } from "../engine/pin.js";
import type { Checkout } from "../github/checkout.js";
import { pinCommitLine, pinProposalId, renderPinBody, renderPinTitle } from "../github/pin-request-text.js";
import type { Proposal, ProposedFile } from "../github/publish.js";
import { planPins, type PinAddition, type PinPlan } from "../pin/plan.js";
import { keptOutside, PIN_BRANCH } from "../policy/grouping.js";
import { checkPinSignatures } from "../policy/signatures.js";
import { tagKey } from "../reference/format.js";
import { applyDigestInsertions } from "../rewrite/insert.js";
import { joinPathBytes } from "../scan/names.js";
import type { RegistrySession } from "./session.js";

/** The key of one pin among a proposal's changes: never the same as a digest update's. */
const pinKey = (pin: PinAddition) => `pin:${tagKey(pin.image, pin.tag)}`;

/**
 * The pin pull request of `pin: true`: every reference written with a tag and no digest gets the digest its tag
 * points to now, on its own branch. Undefined when nothing is unpinned; a proposal without changes (every lookup
 * failed) keeps an open pull request as it is.
 */
export async function proposePins(
  unpinned: UnpinnedFiles,
  checkout: Checkout,
  config: DigestaConfig,
  session: RegistrySession,
): Promise<Proposal | undefined> {
  if (unpinned.unpinned.length === 0) return undefined;
  const resolved = await resolveTags(unpinned.unpinned, session.reader, { concurrency: 8 });
  // As for updates: with `verify.required`, a tag whose digest does not verify is not pinned to it.
  const signatures = session.signatures(config.verify);
  const checked = signatures ? await checkPinSignatures(unpinned.unpinned, resolved, signatures, { required: config.verify.required }) : undefined;
  const plan = planPins(unpinned, checked?.resolutions ?? resolved);
  const files = await pinnedFiles(plan, checkout, unpinned.fileDigests);
  const contents = config.diff.enabled && session.contents ? await readContents(plan.pins, config, session) : undefined;
  return {
    branch: PIN_BRANCH,
    changes: plan.pins.map(pinKey),
    files,
    describe: (leftOut) => {
      const { kept: pins, notMoved } = keptOutside(plan.pins, leftOut);
      return {
        title: pins.length > 0 ? renderPinTitle(pins) : "",
        body: renderPinBody({
          pins,
          failed: plan.failed,
          heldBack: plan.heldBack,
          unpinnable: plan.unpinnable,
          leftOut,
          notMoved,
          ...(checked ? { signatures: checked.verdicts } : {}),
          ...(contents ? { contents } : {}),
        }),
        commitLines: pins.map(pinCommitLine),
        id: pinProposalId(pins),
        notMoved: notMoved.map(pinKey),
      };
    },
  };
}

/** Each file's bytes with its digests appended; read as scanned (latin1), so every other byte stays as it is. */
async function pinnedFiles(plan: PinPlan, checkout: Checkout, scanned: ReadonlyMap<string, string>): Promise<Map<string, ProposedFile>> {
  const files = new Map<string, ProposedFile>();
  for (const [relative, insertions] of plan.insertions) {
    if (!scanned.has(relative)) continue;
    const text = await readFile(joinPathBytes(checkout.root, relative), "latin1");
    files.set(relative, { content: Buffer.from(applyDigestInsertions(text, insertions), "latin1"), executable: checkout.summary.executable.has(relative) });
  }
  return files;
}

async function readContents(pins: readonly PinAddition[], config: DigestaConfig, session: RegistrySession): Promise<Map<string, ImageContents>> {
  const limit = pLimit(4);
  const found = new Map<string, ImageContents>();
  await Promise.all(
    pins.map((pin) =>
      limit(async () => {
        found.set(tagKey(pin.image, pin.tag), await session.contents!(pin.image, pin.digest, pin.platform ?? config.diff.platform));
      }),
    ),
  );
  return found;
}
