import { describe, expect, it } from "vitest";
import { interleaveByInstallation } from "../../src/app/sweep.js";

describe("the order a sweep queues repositories in", () => {
  const entry = (installationId: number, repo: string) => ({ installationId, owner: "o", repo });

  it("takes turns across installations, each in its own order, losing and doubling none", () => {
    const listed = [entry(1, "a1"), entry(1, "a2"), entry(1, "a3"), entry(2, "b1"), entry(3, "c1"), entry(3, "c2")];
    expect(interleaveByInstallation(listed).map((e) => e.repo)).toEqual(["a1", "b1", "c1", "a2", "c2", "a3"]);
  });

  it("keeps one installation's order as it is, and an empty list empty", () => {
    const one = [entry(7, "x"), entry(7, "y"), entry(7, "z")];
    expect(interleaveByInstallation(one)).toEqual(one);
    expect(interleaveByInstallation([])).toEqual([]);
  });
});
