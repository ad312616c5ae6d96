import { generateKeyPairSync } from "node:crypto";
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
      pin: false,
      labels: [],
      reviewers: [],
      teamReviewers: [],
      diff: { enabled: true, platform: { os: "linux", architecture: "amd64" } },
      cooldown: 0,
      verify: { required: false, images: [] },
    });
  });

  it("takes pin: true, and refuses a pin that is not a boolean", () => {
    expect(validateConfig({ pin: true })).toMatchObject({ ok: true, config: { pin: true } });
    expect(validateConfig({ pin: "yes" })).toMatchObject({ ok: false });
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

  it("reads verify rules, and refuses ones that do not say who signs, or say it twice, or badly", () => {
    const pem = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }) as string;
    const good = validateConfig({
      verify: {
        required: true,
        images: [
          { match: "cgr.dev/chainguard/**", identity: "https://github.com/chainguard-images/images/.github/workflows/release.yaml@refs/heads/main", issuer: "https://token.actions.githubusercontent.com" },
          { match: "ghcr.io/acme/*", identityRegexp: "^https://github\\.com/acme/", issuer: "https://token.actions.githubusercontent.com" },
          { match: "registry.example/**", key: pem },
        ],
      },
    });
    expect(good.ok).toBe(true);
    if (good.ok) expect(good.config.verify).toMatchObject({ required: true, images: [{ match: "cgr.dev/chainguard/**" }, {}, { key: pem }] });

    const bad = validateConfig({
      verify: {
        images: [
          { match: "a/**" },
          { match: "b/**", identity: "x" },
          { match: "c/**", key: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n" },
          { match: "d/**", key: pem, identity: "x", issuer: "y" },
          { match: "e/**", identityRegexp: "(", issuer: "y" },
          { match: "f/**", identity: "x", issuer: "y", extra: 1 },
          { match: "g@sha256:1", identity: "x", issuer: "y" },
        ],
      },
    });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    const fields = bad.problems.map((p) => `${p.field}: ${p.message}`);
    expect(fields).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^verify\.images\[0\]\.match: say who signs/),
        expect.stringMatching(/^verify\.images\[1\]\.issuer: a keyless signer needs `issuer`/),
        expect.stringMatching(/^verify\.images\[2\]\.key: key is not a PEM public key/),
        expect.stringMatching(/^verify\.images\[3\]\.key: give either/),
        expect.stringMatching(/^verify\.images\[4\]\.identityRegexp: not a regular expression/),
        expect.stringMatching(/^verify\.images\[5\]\.extra/),
        expect.stringMatching(/^verify\.images\[6\]\.match/),
      ]),
    );
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
