// What `check` and `update` ask the registry for, counted by the registry itself (its access log): check reads no
// platform image a pin would move to (the follower's floor); update confirms each one once before it writes, by the
// GET the package diff then reuses (so no manifest is fetched twice in one run) or, without diffs, by a HEAD; `diff`
// reads again nothing that following its tag read.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import { ProbotOctokit } from "probot";
import { runOneShot } from "../../src/app/one-shot.js";
import { createSessionFactory } from "../../src/app/registry-setup.js";
import { ALL_BRANCH, PIN_BRANCH } from "../../src/policy/grouping.js";
import { runCli } from "../support/cli.js";
import { GitHubFake } from "../support/github-fake.js";
import { LINUX_AMD64, LINUX_ARM64, movingTag, MULTI_ARCH, platformKey, type PushedBuild } from "../support/images.js";
import { startRegistry, type AccessLogEntry, type TestRegistry } from "../support/registry-server.js";

let reg: TestRegistry;
let app: { before: PushedBuild; after: PushedBuild };
let dir: string;
let original: string;
const amd = platformKey(LINUX_AMD64);
const arm = platformKey(LINUX_ARM64);

beforeAll(async () => {
  reg = await startRegistry({ accessLog: true });
  app = await movingTag(reg, "acme/app", "1", { platforms: MULTI_ARCH });
});
afterAll(() => reg?.stop());

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "digesta-requests-"));
  // An index pin and two platform pins of one tag, the amd64 one twice: each distinct thing is asked for once.
  original = [
    `image: ${reg.host}/acme/app:1@${app.before.digest}`,
    `image: ${reg.host}/acme/app:1@${app.before.platforms[amd]}`,
    `image: ${reg.host}/acme/app:1@${app.before.platforms[arm]}`,
    `image: ${reg.host}/acme/app:1@${app.before.platforms[amd]}`,
    "",
  ].join("\n");
  await writeFile(join(dir, "a.yaml"), original);
  return () => rm(dir, { recursive: true, force: true });
});

/** Waits until the registry has logged everything it served so far: a marker request sent now shows in its log. */
async function settledLog(): Promise<AccessLogEntry[]> {
  const marker = `/v2/marker/manifests/m${Date.now()}${Math.random().toString(36).slice(2)}`;
  await (await reg.fetch(marker)).arrayBuffer();
  for (let i = 0; i < 200; i++) {
    const log = reg.accessLog();
    if (log.some((entry) => entry.path === marker)) return log;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("the registry did not log the marker request");
}

/** The manifest requests a run made, as `METHOD reference`, from the registry's access log. */
async function manifestRequests(run: () => Promise<unknown>): Promise<string[]> {
  const before = (await settledLog()).length;
  await run();
  return (await settledLog())
    .slice(before)
    .filter((entry: AccessLogEntry) => entry.path.startsWith("/v2/acme/app/manifests/"))
    .map((entry) => `${entry.method} ${entry.path.slice("/v2/acme/app/manifests/".length)}`);
}

interface OneShotRun {
  readonly outcome: Awaited<ReturnType<typeof runOneShot>> | undefined;
  readonly requests: string[];
  readonly fake: GitHubFake;
}

const repeated = (requests: readonly string[]) => requests.filter((r, i) => requests.indexOf(r) !== i);

describe("manifest requests per run", () => {
  it("check reads the tag and each stale pin once, and none of the platform images the pins would move to", async () => {
    const requests = await manifestRequests(async () => expect((await runCli("check", dir)).code).toBe(1));
    expect(requests.sort()).toEqual(["GET 1", `GET ${app.before.digest}`, `GET ${app.before.platforms[amd]}`, `GET ${app.before.platforms[arm]}`].sort());
  });

  it("update with package diffs fetches no manifest twice: the new platform images are confirmed by the GET the diff reuses", async () => {
    let output = "";
    const requests = await manifestRequests(async () => {
      const run = await runCli("update", dir, "--json");
      output = run.stdout;
      expect(run.code, run.stderr).toBe(0);
    });
    expect(repeated(requests), requests.join("\n")).toEqual([]);
    expect(requests.filter((r) => r.startsWith("HEAD"))).toEqual([]);
    // The floor, plus the two new platform images, which the diffs must read anyway.
    for (const digest of [app.before.digest, app.before.platforms[amd], app.before.platforms[arm], app.after.platforms[amd], app.after.platforms[arm]]) {
      expect(requests).toContain(`GET ${digest}`);
    }
    const report = JSON.parse(output) as { updated: { to: string }[]; diffs: { to: string; packagesUnknown?: boolean }[] };
    expect(report.updated.map((u) => u.to).sort()).toEqual([app.after.digest, app.after.platforms[amd], app.after.platforms[arm]].sort());
    expect(report.diffs).toHaveLength(3);
    expect(await readFile(join(dir, "a.yaml"), "utf8")).toBe(
      original.replace(app.before.digest, app.after.digest).replaceAll(app.before.platforms[amd]!, app.after.platforms[amd]!).replace(app.before.platforms[arm]!, app.after.platforms[arm]!),
    );
  });

  it("update without diffs confirms each new platform image with one HEAD and reads none of them", async () => {
    const requests = await manifestRequests(async () => expect((await runCli("update", dir, "--no-diff")).code).toBe(0));
    expect(repeated(requests), requests.join("\n")).toEqual([]);
    expect(requests.sort()).toEqual(
      [
        "GET 1",
        `GET ${app.before.digest}`,
        `GET ${app.before.platforms[amd]}`,
        `GET ${app.before.platforms[arm]}`,
        `HEAD ${app.after.platforms[amd]}`,
        `HEAD ${app.after.platforms[arm]}`,
      ].sort(),
    );
  });

  it("diff IMAGE:TAG@OLD fetches no manifest twice: the diff reads what following the tag read from the run's memo", async () => {
    const requests = await manifestRequests(async () => {
      const run = await runCli("diff", `${reg.host}/acme/app:1@${app.before.platforms[arm]}`, "--json");
      expect(run.code, run.stderr).toBe(0);
      expect((JSON.parse(run.stdout) as { to: string }).to).toBe(app.after.platforms[arm]);
    });
    expect(repeated(requests), requests.join("\n")).toEqual([]);
    for (const digest of [app.before.platforms[arm], app.after.platforms[arm]]) expect(requests).toContain(`GET ${digest}`);
  });

  /** The app's run on one repository of the GitHub fake, as the Action runs it: its outcome, the manifest requests it made, and the fake. */
  async function oneShot(repo: string, files: Record<string, string>, check: (run: OneShotRun) => void): Promise<void> {
    const fake = new GitHubFake();
    fake.install();
    try {
      fake.addInstallation(7, "someone");
      fake.createRepository("someone", repo, files, { installationId: 7 });
      fake.addToken("ghs_token");
      let outcome: Awaited<ReturnType<typeof runOneShot>> | undefined;
      const requests = await manifestRequests(async () => {
        outcome = await runOneShot({
          owner: "someone",
          repo,
          token: "ghs_token",
          octokit: new ProbotOctokit({ auth: { token: "ghs_token" }, retry: { enabled: false }, throttle: { enabled: false } }),
          session: createSessionFactory({ allowPrivateRegistries: [reg.host] })(),
          log: pino({ level: "silent" }),
        });
      });
      check({ outcome, requests, fake });
    } finally {
      fake.uninstall();
    }
  }

  it("the app's pull request (one-shot, as the Action runs it) fetches no manifest twice, build times and package diffs included", () =>
    oneShot("app", { "a.yaml": original }, ({ outcome, requests, fake }) => {
      expect(outcome).toMatchObject({ status: "done", updates: 3, failed: 0 });
      expect(repeated(requests), requests.join("\n")).toEqual([]);
      expect(requests.filter((r) => r.startsWith("HEAD"))).toEqual([]);
      expect(fake.files("someone", "app", ALL_BRANCH)["a.yaml"]).toContain(app.after.platforms[arm]);
      expect(fake.pulls("someone", "app")[0]!.body).toContain("Package changes");
    }));

  it("the app's pin pull request (pin: true) reads the tag once and each platform image it lists once", () =>
    oneShot("pins", { "a.yaml": `image: ${reg.host}/acme/app:1\n`, ".github/digesta.yml": "pin: true\n" }, ({ outcome, requests, fake }) => {
      expect(outcome).toMatchObject({ status: "done" });
      expect(fake.files("someone", "pins", PIN_BRANCH)["a.yaml"]).toBe(`image: ${reg.host}/acme/app:1@${app.after.digest}\n`);
      expect(repeated(requests), requests.join("\n")).toEqual([]);
      // The tag's index once (its digest is what is written), then the platform image the contents come from.
      expect(requests.filter((r) => r === "GET 1" || r === `GET ${app.after.digest}`)).toEqual(["GET 1"]);
      expect(requests).toContain(`GET ${app.after.platforms[amd]}`);
    }));
});
