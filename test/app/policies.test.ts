import { describe, expect, it } from "vitest";
import { pushMayTouchPins } from "../../src/app/push-filter.js";
import { RepositoryBook } from "../../src/app/sweep.js";
import { planUpdates, pinKey } from "../../src/plan/plan.js";
import type { PinResolution } from "../../src/plan/types.js";
import { ALL_BRANCH, groupUpdates, imageBranch } from "../../src/policy/grouping.js";
import { createIgnoreMatcher } from "../../src/policy/ignore.js";
import { isDue, lastScheduledTime, MIN_SCHEDULE_INTERVAL_MS } from "../../src/policy/schedule.js";
import { digest, pinnedOccurrence, textScan } from "../factories/pins.js";

describe("ignore", () => {
  const skip = createIgnoreMatcher(["docker.io/library/*", "ghcr.io/acme/**:edge"]);
  it("matches normalised names, and names with their tag", () => {
    expect(skip({ registry: "docker.io", repository: "library/nginx", tag: "1", digest: digest("a") })).toContain("docker.io/library/*");
    expect(skip({ registry: "docker.io", repository: "bitnami/redis", tag: "1", digest: digest("a") })).toBeUndefined();
    expect(createIgnoreMatcher(["localhost:5000/**"])({ registry: "localhost:5000", repository: "a/b", tag: "1", digest: digest("a") })).toBeDefined();
    expect(skip({ registry: "ghcr.io", repository: "acme/tools/cli", tag: "edge", digest: digest("a") })).toBeDefined();
    expect(skip({ registry: "ghcr.io", repository: "acme/tools/cli", tag: "stable", digest: digest("a") })).toBeUndefined();
  });
});

describe("schedule", () => {
  const seed = "octo/app";
  it("spreads daily runs over the day per repository, the same slot every day", () => {
    const a = lastScheduledTime("daily", "octo/a", new Date("2026-03-10T23:59:00Z"));
    const b = lastScheduledTime("daily", "octo/a", new Date("2026-03-11T23:59:00Z"));
    expect(b.getTime() - a.getTime()).toBe(86_400_000);
    const slots = new Set(Array.from({ length: 20 }, (_, i) => lastScheduledTime("daily", `octo/repo-${i}`, new Date("2026-03-10T23:59:00Z")).toISOString()));
    expect(slots.size).toBeGreaterThan(10);
  });

  it("is due once the schedule fired after the last run, never twice within the minimum interval", () => {
    const fired = lastScheduledTime("daily", seed, new Date("2026-03-10T23:59:00Z"));
    const justBefore = new Date(fired.getTime() - 2 * MIN_SCHEDULE_INTERVAL_MS);
    expect(isDue("daily", seed, justBefore, new Date(fired.getTime() + 1000))).toBe(true);
    expect(isDue("daily", seed, fired, new Date(fired.getTime() + 1000))).toBe(false);
    expect(isDue("* * * * *", seed, new Date("2026-03-10T10:00:00Z"), new Date("2026-03-10T10:30:00Z"))).toBe(false);
    expect(isDue("* * * * *", seed, new Date("2026-03-10T10:00:00Z"), new Date("2026-03-10T11:01:00Z"))).toBe(true);
  });

  it("honours a cron expression in UTC", () => {
    expect(lastScheduledTime("0 6 * * 1", seed, new Date("2026-03-11T12:00:00Z")).toISOString()).toBe("2026-03-09T06:00:00.000Z");
  });

  it("tells the scheduler which known repositories are due, from their own schedules", () => {
    const start = new Date("2026-03-09T00:00:00Z");
    const book = new RepositoryBook(start);
    book.add({ installationId: 1, owner: "octo", repo: "weekly" });
    book.add({ installationId: 1, owner: "octo", repo: "monday" });
    book.ran("octo", "monday", start, "0 6 * * 1");
    book.ran("octo", "weekly", start, "0 6 * * 5");
    expect(book.due(new Date("2026-03-09T07:00:00Z")).map((r) => r.repo)).toEqual(["monday"]);
    book.removeInstallation(1);
    expect(book.all()).toEqual([]);
  });
});

describe("pushMayTouchPins", () => {
  it("runs for a changed pin line or the configuration, not for unrelated changes", () => {
    expect(pushMayTouchPins([{ filename: "README.md", patch: "@@ -1 +1 @@\n-old\n+new" }], true)).toBe(false);
    expect(pushMayTouchPins([{ filename: "Dockerfile", patch: `@@ -1 +1 @@\n-FROM a:1@sha256:${"a".repeat(64)}\n+FROM a:1@sha256:${"b".repeat(64)}` }], true)).toBe(true);
    expect(pushMayTouchPins([{ filename: ".github/digesta.yml", patch: "@@ -1 +1 @@\n+group: image" }], true)).toBe(true);
    // A context line with a pin is not a change to it.
    expect(pushMayTouchPins([{ filename: "Dockerfile", patch: `@@ -1,2 +1,2 @@\n FROM a:1@sha256:${"a".repeat(64)}\n-RUN a\n+RUN b` }], true)).toBe(false);
  });

  it("runs when GitHub did not send everything", () => {
    expect(pushMayTouchPins([{ filename: "big.yaml" }], true)).toBe(true);
    expect(pushMayTouchPins([], false)).toBe(true);
  });
});

describe("grouping", () => {
  const web = pinnedOccurrence({ path: "a.yaml", reference: { registry: "ghcr.io", repository: "acme/web", digest: digest("1") } });
  const api = pinnedOccurrence({ path: "b.yaml", reference: { registry: "localhost:5000", repository: "acme/api", digest: digest("2") } });
  const broken = pinnedOccurrence({ path: "c.yaml", reference: { registry: "quay.io", repository: "acme/db", digest: digest("3") } });
  const resolutions = new Map<string, PinResolution>([
    [pinKey(web.reference), { ok: true, current: digest("4"), kind: "index" }],
    [pinKey(api.reference), { ok: true, current: digest("5"), kind: "index" }],
    [pinKey(broken.reference), { ok: false, reason: "registry down" }],
  ]);
  const plan = planUpdates(textScan([web, api, broken]), resolutions);

  it("puts everything in one branch by default", () => {
    const [group, ...rest] = groupUpdates(plan, "all");
    expect(rest).toEqual([]);
    expect(group!.branch).toBe(ALL_BRANCH);
    expect([...group!.edits.keys()]).toEqual(["a.yaml", "b.yaml"]);
    expect(group!.failed).toHaveLength(1);
  });

  it("makes one branch per image, keeping images that only failed", () => {
    const groups = groupUpdates(plan, "image");
    expect(groups.map((g) => [g.branch, g.updates.length, g.failed.length])).toEqual([
      ["digesta/image/ghcr.io/acme/web", 1, 0],
      ["digesta/image/localhost-5000/acme/api", 1, 0],
      ["digesta/image/quay.io/acme/db", 0, 1],
    ]);
  });

  it("makes valid branch names from any registry host", () => {
    expect(imageBranch("[::1]:5000/a/b")).toBe("digesta/image/-1-5000/a/b");
    expect(imageBranch("host/.hidden/x.lock")).toBe("digesta/image/host/_hidden/x_lock");
  });
});
