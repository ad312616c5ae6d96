import { describe, expect, it } from "vitest";
import { planUpdates, pinKey } from "../../src/plan/plan.js";
import type { PinResolution } from "../../src/plan/types.js";
import { groupUpdates } from "../../src/policy/grouping.js";
import { MAX_BODY_LENGTH, PULL_REQUEST_MARKER, proposalId, proposalIdOf, renderBody, renderTitle } from "../../src/github/pull-request-text.js";
import { digest, pinnedOccurrence, textScan } from "../factories/pins.js";

function groupOf(occurrences: ReturnType<typeof pinnedOccurrence>[], fail: (key: string) => boolean = () => false) {
  const resolutions = new Map<string, PinResolution>(
    occurrences.map((o) => [pinKey(o.reference), fail(pinKey(o.reference)) ? { ok: false, reason: "HTTP 503 from registry <b>@admins</b> | see `logs`" } : { ok: true, current: digest("f"), kind: "index" }]),
  );
  return groupUpdates(planUpdates(textScan(occurrences), resolutions), "all")[0]!;
}

describe("pull request text", () => {
  it("names one image in the title, or counts them", () => {
    const one = groupOf([pinnedOccurrence()]);
    expect(renderTitle(one)).toBe("Update cgr.dev/chainguard/static:latest digest");
    const two = groupOf([pinnedOccurrence(), pinnedOccurrence({ reference: { repository: "chainguard/node", digest: digest("b") } })]);
    expect(renderTitle(two)).toBe("Update digests of 2 images");
  });

  it("shows file names and registry messages as text: nothing can break the table, ping anyone or inject HTML", () => {
    const hostile = pinnedOccurrence({ path: "a|b`c/<img src=x>@everyone.yaml" });
    const failing = pinnedOccurrence({ path: "ok.yaml", reference: { repository: "chainguard/node", digest: digest("b") } });
    const group = groupOf([hostile, failing], (key) => key.includes("node"));
    const body = renderBody({ group });
    expect(body.startsWith(PULL_REQUEST_MARKER)).toBe(true);
    expect(body).not.toContain("<img");
    expect(body).not.toContain("<b>");
    // Mentions: defused in free text; in file names they stay inside <code>, where GitHub links none.
    expect(body).not.toContain("@admins");
    expect(body.replace(/<code>.*?<\/code>/g, "")).not.toContain("@everyone");
    expect(body).toContain("<code>a&#124;b&#96;c/&#60;img src=x&#62;@everyone.yaml:1</code>");
    const row = body.split("\n").find((line) => line.includes("static</code>"))!;
    expect(row.split("|").length).toBe(7);
    expect(body).toContain("could not check <code>cgr.dev/chainguard/node:latest</code>: HTTP 503");
  });

  it("keeps a file name with a line break (git allows one) on its table row and inside its <code>", () => {
    const broken = pinnedOccurrence({ path: "x\n# Owned @everyone\u202e.yaml" });
    const body = renderBody({ group: groupOf([broken]) });
    expect(body).not.toMatch(/^# Owned/m);
    expect(body).not.toContain("\u202e");
    const row = body.split("\n").find((line) => line.includes("static</code>"))!;
    expect(row).toContain("<code>x\ufffd# Owned @everyone\ufffd.yaml:1</code>");
    expect(row.split("|").length).toBe(7);
  });

  it("stays under GitHub's limit however many pins and however long the diffs", () => {
    const occurrences = Array.from({ length: 3000 }, (_, i) =>
      pinnedOccurrence({ path: `deploy/service-${i}/values.yaml`, reference: { repository: `team/service-${i}`, digest: digest("a") } }),
    );
    const group = groupOf(occurrences);
    let offered = 0;
    const body = renderBody({ group, renderDiffs: (budget) => ((offered = budget), "x".repeat(budget)) });
    expect(body.length).toBeLessThanOrEqual(MAX_BODY_LENGTH);
    expect(body).toMatch(/\| … and \d+ more \|/);
    expect(body).toContain("### Commands");
    expect(offered).toBeGreaterThanOrEqual(0);
  });

  it("gives the diffs the room the table leaves, and drops a rendering that does not fit", () => {
    const group = groupOf([pinnedOccurrence()]);
    const body = renderBody({ group, renderDiffs: (budget) => "y".repeat(budget + 1) });
    expect(body).not.toContain("yyyy");
    const fitting = renderBody({ group, renderDiffs: () => "### Package changes\n\nbusybox 1 → 2" });
    expect(fitting).toContain("busybox 1 → 2");
    expect(fitting.indexOf("busybox")).toBeLessThan(fitting.indexOf("### Commands"));
  });

  it("records what it proposes so a proposal closed by a person is recognised", () => {
    const group = groupOf([pinnedOccurrence()]);
    expect(proposalIdOf(renderBody({ group }))).toBe(proposalId(group.updates));
    const other = groupOf([pinnedOccurrence({ reference: { tag: "other" } })]);
    expect(proposalId(other.updates)).not.toBe(proposalId(group.updates));
  });
});
