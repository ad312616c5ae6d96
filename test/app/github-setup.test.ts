import { describe, expect, it } from "vitest";
import { githubClientFromEnv } from "../../src/app/github-setup.js";

describe("the app's GitHub client from the environment", () => {
  it("is Probot's own, paced as GitHub asks, unless DIGESTA_GITHUB_WRITE_INTERVAL_MS says otherwise", () => {
    expect(githubClientFromEnv({})).toBeUndefined();
    expect(githubClientFromEnv({ DIGESTA_GITHUB_WRITE_INTERVAL_MS: " " })).toBeUndefined();
    expect(githubClientFromEnv({ DIGESTA_GITHUB_WRITE_INTERVAL_MS: "0" })).toBeTypeOf("function");
    expect(githubClientFromEnv({ DIGESTA_GITHUB_WRITE_INTERVAL_MS: "250" })).toBeTypeOf("function");
  });

  it("refuses a gap that is not a whole number of milliseconds, saying which variable", () => {
    for (const value of ["-1", "1.5", "fast", "1e3"]) {
      expect(() => githubClientFromEnv({ DIGESTA_GITHUB_WRITE_INTERVAL_MS: value }), value).toThrow(/DIGESTA_GITHUB_WRITE_INTERVAL_MS must be a whole number/);
    }
  });

});
