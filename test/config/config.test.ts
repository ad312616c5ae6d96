import { ProbotOctokit } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadRepositoryConfig, validateConfig } from "../../src/config/load.js";
import { configSchema, DEFAULT_CONFIG, parseDuration, parsePlatform, toDigestaConfig } from "../../src/config/schema.js";
import { GitHubFake } from "../support/github-fake.js";

const CONFIG = ".github/digesta.yml";

describe("configuration schema", () => {
  it("gives every field a default", () => {
    expect(DEFAULT_CONFIG).toEqual({
      enabled: true,
      paths: { include: ["**"], exclude: [] },
      ignore: [],
      schedule: "daily",
      group: "all",
      labels: [],
      reviewers: [],
      teamReviewers: [],
      diff: { enabled: true, platform: { os: "linux", architecture: "amd64" } },
      cooldown: 0,
    });
  });

  it("writes out the defaults exactly as the schema makes them from an empty file", () => {
    expect(DEFAULT_CONFIG).toEqual(toDigestaConfig(configSchema.parse({})));
  });

  it("parses durations, platforms, cron schedules and splits team reviewers", () => {
    const result = validateConfig({
      cooldown: "3d",
      schedule: "0 6 * * 1",
      reviewers: ["@alice", "octo/platform-team"],
      diff: { platform: "linux/arm64/v8" },
      paths: { include: ["deploy/**"] },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.cooldown).toBe(3 * 86_400_000);
    expect(result.config.schedule).toBe("0 6 * * 1");
    expect(result.config.reviewers).toEqual(["alice"]);
    expect(result.config.teamReviewers).toEqual(["platform-team"]);
    expect(result.config.diff.platform).toEqual({ os: "linux", architecture: "arm64", variant: "v8" });
    expect(result.config.paths).toEqual({ include: ["deploy/**"], exclude: [] });
    expect(parseDuration("12h")).toBe(12 * 3_600_000);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parsePlatform("linux")).toBeUndefined();
  });

  it("lists each problem with its field and line", () => {
    const text = ["enabled: yes please", "paths:", "  include:", "    - ok/**", "    - ../escape", "schedule: sometimes", "grup: image", ""].join("\n");
    const result = validateConfig({ enabled: "yes please", paths: { include: ["ok/**", "../escape"] }, schedule: "sometimes", grup: "image" }, { file: "o/r:.github/digesta.yml", text });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const byField = Object.fromEntries(result.problems.map((p) => [p.field, p]));
    expect(byField["enabled"]).toMatchObject({ line: 1, file: "o/r:.github/digesta.yml" });
    expect(byField["paths.include[1]"]).toMatchObject({ line: 5, message: expect.stringContaining("..") });
    expect(byField["schedule"]).toMatchObject({ line: 6, message: expect.stringContaining("cron") });
    expect(byField["grup"]).toMatchObject({ line: 7 });
  });
});

describe("loadRepositoryConfig", () => {
  let fake: GitHubFake;
  const octokit = () => new ProbotOctokit({ auth: { token: "ghp_config" }, retry: { enabled: false }, throttle: { enabled: false } });
  beforeEach(() => {
    fake = new GitHubFake();
    fake.install();
    fake.addInstallation(1, "octo");
    fake.addToken("ghp_config");
  });
  afterEach(() => fake.uninstall());

  it("uses the defaults when no file exists anywhere", async () => {
    fake.createRepository("octo", "app", { "README.md": "hi" }, { installationId: 1 });
    const result = await loadRepositoryConfig(octokit(), { owner: "octo", repo: "app" });
    expect(result).toEqual({ ok: true, config: DEFAULT_CONFIG, files: [] });
  });

  it("falls back to the organisation's .github repository and follows _extends", async () => {
    fake.createRepository("octo", ".github", { [CONFIG]: "_extends: shared-config\nlabels: [dependencies]\n" }, { installationId: 1 });
    fake.createRepository("octo", "shared-config", { [CONFIG]: "group: image\ncooldown: 2d\n" }, { installationId: 1 });
    fake.createRepository("octo", "app", { "README.md": "hi" }, { installationId: 1 });
    const result = await loadRepositoryConfig(octokit(), { owner: "octo", repo: "app" });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config).toMatchObject({ group: "image", cooldown: 2 * 86_400_000, labels: ["dependencies"] });
    expect(result.files).toEqual(["octo/.github:.github/digesta.yml", "octo/shared-config:.github/digesta.yml"]);
  });

  it("reports a YAML syntax error with its line", async () => {
    fake.createRepository("octo", "app", { [CONFIG]: "enabled: true\nlabels: [a, b\nschedule: daily\n" }, { installationId: 1 });
    const result = await loadRepositoryConfig(octokit(), { owner: "octo", repo: "app" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ file: "octo/app:.github/digesta.yml", message: expect.stringMatching(/^invalid YAML/) });
    expect(result.problems[0]!.line).toBeGreaterThanOrEqual(2);
  });

  it("reports schema problems located in the repository's own file", async () => {
    fake.createRepository("octo", "app", { [CONFIG]: "# digesta\ngroup: everything\ncooldown: soon\n" }, { installationId: 1 });
    const result = await loadRepositoryConfig(octokit(), { owner: "octo", repo: "app" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => [p.field, p.line])).toEqual([
      ["group", 2],
      ["cooldown", 3],
    ]);
  });

  it("throws (rather than blaming the configuration) when GitHub cannot be reached", async () => {
    const unauthorised = new ProbotOctokit({ auth: { token: "ghp_unknown" }, retry: { enabled: false }, throttle: { enabled: false } });
    fake.createRepository("octo", "app", {}, { installationId: 1 });
    await expect(loadRepositoryConfig(unauthorised, { owner: "octo", repo: "app" })).rejects.toMatchObject({ status: 401 });
  });
});
