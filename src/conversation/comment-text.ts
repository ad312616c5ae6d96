import { renderImageDiffs } from "../diff/markdown.js";
import type { ImageDiff } from "../diff/types.js";
import { code, fitBody, inline, limitList, MAX_BODY_LENGTH, signaturesSection } from "../github/pull-request-text.js";
import type { Digest, ImageName } from "../reference/types.js";
import type { Verdict } from "../verify/types.js";

/** First line of the package-changes comment: how digesta finds it again on the next push. */
export const PACKAGE_CHANGES_MARKER = "<!-- digesta:package-changes -->";

export interface PackageChangesInput {
  /** The head commit the comment describes. */
  readonly headSha: string;
  /** One per moved image, in the order to show. */
  readonly diffs: readonly ImageDiff[];
  /** Moves found but not diffed (over the cap), as `image` names. */
  readonly notDiffed?: readonly string[];
  /** Why the package diff is not shown at all (the repository turned it off), if so. */
  readonly diffOff?: string;
  /** Things the reader should know: files not read, and why. One line each, plain text (escaped here). */
  readonly notes?: readonly string[];
  /** The digests moved to, and the verdict on each a `verify` rule names (by `registry/repository@digest`). */
  readonly signatures?: {
    readonly moved: readonly { readonly image: ImageName; readonly digest: Digest }[];
    readonly verdicts: ReadonlyMap<string, Verdict>;
  };
}

const FOOTER = "<sub>digesta edits this comment on each push. Comment <code>/digesta help</code> for its commands.</sub>";

/**
 * The comment on a pull request that moves digests: the package diff of each moved image, within GitHub's size
 * limit; or, once the pull request moves nothing any more, a line saying so.
 */
export function renderPackageChangesComment(input: PackageChangesInput): string {
  const head = [PACKAGE_CHANGES_MARKER, "### Package changes", ""];
  const at = `as of ${code(input.headSha.slice(0, 7))}`;
  const moved = input.diffs.length + (input.notDiffed?.length ?? 0);
  if (moved === 0) {
    head.push(`This pull request no longer moves any image digest (${at}).`);
  } else {
    head.push(`This pull request moves the digest of ${moved === 1 ? "one image" : `${moved} images`} (${at}).`);
  }
  head.push("");

  // The same Signatures section as digesta's own pull requests: whoever proposed the move, the reviewer sees who signed it.
  const tail: string[] = input.signatures ? signaturesSection(input.signatures.moved, input.signatures.verdicts) : [];
  if (input.notDiffed && input.notDiffed.length > 0) {
    tail.push(`Not compared (over the limit of ${input.diffs.length} images per pull request):`);
    tail.push(...limitList(input.notDiffed.map((name) => `- ${code(name)}`), 20), "");
  }
  for (const note of (input.notes ?? []).slice(0, 20)) tail.push(`- ${inline(note)}`);
  if ((input.notes?.length ?? 0) > 0) tail.push("");
  tail.push(FOOTER);

  const fixed = [...head, ...tail].join("\n").length + 10;
  let middle = "";
  if (input.diffOff && input.diffs.length > 0) {
    middle = `${inline(input.diffOff)}\n\n${limitList(input.diffs.map((d) => `- ${code(`${d.image}${d.tag ? `:${d.tag}` : ""}`)} ${code(d.from.slice(7, 19))} → ${code(d.to.slice(7, 19))}`), 50).join("\n")}\n\n`;
  } else if (input.diffs.length > 0) {
    middle = `${renderImageDiffs(input.diffs, { budget: MAX_BODY_LENGTH - fixed })}\n\n`;
  }
  const body = `${head.join("\n")}\n${middle}${tail.join("\n")}`;
  return fitBody(body);
}
