import type { VanishedPin } from "../plan/types.js";
import type { OwnIssueKind, OwnIssues } from "./own-issue.js";
import { fitBody, vanishedSection } from "./pull-request-text.js";

export const VANISHED_ISSUE_TITLE = "digesta: pinned images vanished from their registry";
const MARKER = "<!-- digesta:vanished -->";
const VANISHED_ISSUE: OwnIssueKind = { title: VANISHED_ISSUE_TITLE, marker: MARKER };

/**
 * Opens (or rewrites) the one issue listing the vanished pins no pull request carries: with nothing to update there
 * is no pull request to say it in, and a deploy from such a pin fails. Returns the issue number.
 */
export function reportVanishedPins(issues: OwnIssues, vanished: readonly VanishedPin[]): Promise<number> {
  const body = fitBody(
    [
      MARKER,
      ...vanishedSection(vanished),
      "",
      "Pin each one to a tag and digest that exist (`digesta pin` appends a tag's current digest), or remove it. " +
        "digesta closes this issue on its next run once no pin names something the registry no longer has.",
    ].join("\n"),
  );
  return issues.open(VANISHED_ISSUE, body);
}

/** Closes the vanished-pins issue, if one is open, once every pin names something that exists again. */
export function closeVanishedIssue(issues: OwnIssues, atCommit?: string): Promise<number | undefined> {
  const comment = `Every pin names an image the registry has${atCommit ? ` as of ${atCommit.slice(0, 7)}` : ""}: closing.`;
  return issues.close(VANISHED_ISSUE, comment);
}
