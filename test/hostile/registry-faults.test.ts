// Every registry fault the fault proxy can deal, each one put in front of one image only, against every command
// that talks to a registry (check, update, pin, resolve, diff) and against the app's own registry client: the faulty
// image fails with one line naming it, the healthy image beside it is served, no file gets a digest the registry does
// not hold for the tag, and nothing prints a stack trace. The random campaign (test/integration/fault-injection)
// deals faults to every image at once; this one deals each fault to every request of one image, so none is retried
// away.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { ProbotOctokit } from "probot";
import { runOneShot } from "../../src/app/one-shot.js";
import { createSessionFactory } from "../../src/app/registry-setup.js";
import { ALL_BRANCH } from "../../src/policy/grouping.js";
import { GitHubFake } from "../support/github-fake.js";
import { runCli, type CliRun } from "../support/cli.js";
import { ALL_FAULTS, startFaultProxy, type Fault, type FaultProxy } from "../support/fault-proxy.js";
import { deleteManifest, MULTI_ARCH, movingTag, platformKey, LINUX_AMD64, LINUX_ARM64, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

const DIGEST = /sha256:[0-9a-f]{64}/g;
/** Limits a loaded machine keeps to for the healthy image; a stalled answer costs at most a deadline per operation. */
const LIMITS = ["--timeout", "2", "--deadline", "5", "--retries", "1"];
/** Faults whose bytes arrive intact in the end: the image may be served through them. */
const MAY_SUCCEED = new Set<Fault>(["trickle"]);

let reg: TestRegistry;
let good: { before: PushedBuild; after: PushedBuild };
let bad: { before: PushedBuild; after: PushedBuild };
const proxies = new Map<Fault, FaultProxy>();
const temporaries: string[] = [];
const previousDockerConfig = process.env["DOCKER_CONFIG"];

beforeAll(async () => {
  process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-registry-faults-test";
  reg = await startRegistry();
  [good, bad] = await Promise.all([movingTag(reg, "acme/good", "1"), movingTag(reg, "acme/bad", "1", { platforms: MULTI_ARCH })]);
  for (const fault of ALL_FAULTS) {
    // Only the bad image's requests are damaged; the good image and the registry's ping pass untouched.
    proxies.set(fault, await startFaultProxy({ target: reg.url, choose: (request) => (request.path.includes("/acme/bad/") ? fault : "none"), trickleMs: 20 }));
  }
});

afterAll(async () => {
  if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
  else process.env["DOCKER_CONFIG"] = previousDockerConfig;
  for (const proxy of proxies.values()) await proxy.stop();
  await reg?.stop();
  for (const dir of temporaries) await rm(dir, { recursive: true, force: true });
});

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "digesta-faults-"));
  temporaries.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

/** What a run printed is lines, never a stack trace or an unhandled error. */
function expectCleanOutput(run: CliRun, context: string): void {
  const output = run.stdout + run.stderr;
  expect(output, `${context}: a stack trace`).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
  expect(output, context).not.toMatch(/Unhandled|TypeError|ReferenceError|\[object Object\]|undefined:/);
}

interface Failure {
  readonly image: string;
  readonly tag: string;
  readonly reason: string;
}

/** A failure's reason is one line that names the image it is about. */
function expectOneLineFailure(failure: Failure | undefined, image: string, context: string): void {
  expect(failure, `${context}: ${image} not reported as failed`).toBeDefined();
  expect(failure!.reason, context).not.toContain("\n");
  expect(failure!.reason.length, context).toBeGreaterThan(10);
  expect(failure!.reason, context).toContain("acme/bad");
}

const each = (test: (fault: Fault) => Promise<void>) => {
  const limit = pLimit(4);
  return Promise.all(ALL_FAULTS.map((fault) => limit(() => test(fault))));
};

describe("one image's registry answers damaged in every way, the other image's intact", () => {
  it("update moves the healthy pins, writes the faulty image's pins only to the registry's truth, and reports them", { timeout: 240_000 }, async () => {
    await each(async (fault) => {
      const host = proxies.get(fault)!.host;
      const arm = platformKey(LINUX_ARM64);
      const pins = [
        { image: `${host}/acme/good`, from: good.before.digest, truth: good.after.digest },
        { image: `${host}/acme/bad`, from: bad.before.digest, truth: bad.after.digest },
        { image: `${host}/acme/bad`, from: bad.before.platforms[arm]!, truth: bad.after.platforms[arm]! },
      ];
      // CRLF, a BOM and no final newline: nothing but digests may change, whatever the registry does.
      const original = `\ufeffa: 1\r\n${pins.map((p) => `image: "${p.image}:1@${p.from}"  # keep`).join("\r\n")}`;
      const dir = await tree({ "deploy.yaml": original });
      const run = await runCli(...LIMITS, "update", dir, "--no-diff", "--json");
      const context = `${fault}: exit ${run.code}; ${run.stderr.slice(0, 600)}`;
      expectCleanOutput(run, context);
      const report = JSON.parse(run.stdout) as { failed: Failure[] };
      const text = await readFile(join(dir, "deploy.yaml"), "utf8");
      expect(text.replace(DIGEST, "D"), context).toBe(original.replace(DIGEST, "D"));
      const written = [...text.matchAll(DIGEST)].map((m) => m[0]);
      expect(written[0], `${context}: the healthy image was not moved: ${JSON.stringify(report.failed)}`).toBe(pins[0]!.truth);
      for (const [i, pin] of pins.entries()) expect([pin.from, pin.truth], `${context}: pin ${i}`).toContain(written[i]);
      const badFailed = report.failed.find((f) => f.image.endsWith("acme/bad"));
      if (written[1] !== pins[1]!.truth || written[2] !== pins[2]!.truth) {
        expect(run.code, context).toBe(2);
        expectOneLineFailure(badFailed, `${host}/acme/bad`, context);
      }
      if (!MAY_SUCCEED.has(fault)) expect(written.slice(1), `${context}: moved through the fault`).toEqual([pins[1]!.from, pins[2]!.from]);
      expect(report.failed.filter((f) => !f.image.endsWith("acme/bad")), context).toEqual([]);
    });
  });

  it("update's confirmation of a platform image, faulted alone, moves that pin only to the truth or leaves it failed", { timeout: 240_000 }, async () => {
    // Only the requests for the arm64 image the pin moves to are damaged: the tag, its index and every pinned manifest
    // pass. The confirmation before the write (a HEAD, or with package diffs the GET the diff reuses) meets the fault.
    const arm = platformKey(LINUX_ARM64);
    const target = `/manifests/${bad.after.platforms[arm]}`;
    const confirming = new Map<Fault, FaultProxy>();
    for (const fault of ALL_FAULTS) confirming.set(fault, await startFaultProxy({ target: reg.url, choose: (request) => (request.path.endsWith(target) ? fault : "none"), trickleMs: 20 }));
    try {
      await each(async (fault) => {
        for (const flags of [["--no-diff"], []]) {
          const host = confirming.get(fault)!.host;
          const original = [
            `image: ${host}/acme/good:1@${good.before.digest}`,
            `image: ${host}/acme/bad:1@${bad.before.digest}`,
            `image: ${host}/acme/bad:1@${bad.before.platforms[arm]}`,
            "",
          ].join("\n");
          const dir = await tree({ "deploy.yaml": original });
          const run = await runCli(...LIMITS, "update", dir, ...flags, "--json");
          const context = `${fault} ${flags.join(" ")}: exit ${run.code}; ${run.stderr.slice(0, 600)}`;
          expectCleanOutput(run, context);
          const report = JSON.parse(run.stdout) as { failed: Failure[] };
          const written = [...(await readFile(join(dir, "deploy.yaml"), "utf8")).matchAll(DIGEST)].map((m) => m[0]);
          expect(written.slice(0, 2), context).toEqual([good.after.digest, bad.after.digest]);
          expect([bad.before.platforms[arm], bad.after.platforms[arm]], context).toContain(written[2]);
          if (written[2] === bad.before.platforms[arm]) {
            expect(run.code, context).toBe(2);
            expect(report.failed, context).toHaveLength(1);
            expectOneLineFailure(report.failed[0], `${host}/acme/bad`, context);
          } else {
            expect(report.failed, context).toEqual([]);
          }
        }
      });
    } finally {
      for (const proxy of confirming.values()) await proxy.stop();
    }
  });

  it("check reports the healthy image stale and the faulty one failed, and exits 2", { timeout: 240_000 }, async () => {
    await each(async (fault) => {
      const host = proxies.get(fault)!.host;
      const dir = await tree({ "a.yaml": `image: ${host}/acme/good:1@${good.before.digest}\nimage: ${host}/acme/bad:1@${bad.before.digest}\n` });
      const run = await runCli(...LIMITS, "check", dir, "--json");
      const context = `${fault}: exit ${run.code}; ${run.stderr.slice(0, 600)}`;
      expectCleanOutput(run, context);
      const report = JSON.parse(run.stdout) as { updated: { image: string }[]; failed: Failure[] };
      expect(report.updated.map((s) => s.image), context).toContain(`${host}/acme/good`);
      if (MAY_SUCCEED.has(fault) && run.code === 1) return;
      expect(run.code, context).toBe(2);
      expectOneLineFailure(report.failed.find((f) => f.image.endsWith("acme/bad")), `${host}/acme/bad`, context);
    });
  });

  it("pin pins the healthy reference and never writes a digest for the faulty image that is not the truth", { timeout: 240_000 }, async () => {
    await each(async (fault) => {
      const host = proxies.get(fault)!.host;
      const original = `FROM ${host}/acme/good:1 AS a\nFROM ${host}/acme/bad:1\n`;
      const dir = await tree({ Dockerfile: original });
      const run = await runCli(...LIMITS, "pin", dir, "--json");
      const context = `${fault}: exit ${run.code}; ${run.stderr.slice(0, 600)}`;
      expectCleanOutput(run, context);
      const text = await readFile(join(dir, "Dockerfile"), "utf8");
      const badLine = text.split("\n")[1]!;
      expect(text.split("\n")[0], context).toBe(`FROM ${host}/acme/good:1@${good.after.digest} AS a`);
      expect([`FROM ${host}/acme/bad:1`, `FROM ${host}/acme/bad:1@${bad.after.digest}`], context).toContain(badLine);
      if (badLine === `FROM ${host}/acme/bad:1`) {
        expect(run.code, context).toBe(2);
        const report = JSON.parse(run.stdout) as { failed: Failure[] };
        expectOneLineFailure(report.failed[0], `${host}/acme/bad`, context);
      }
      if (!MAY_SUCCEED.has(fault)) expect(badLine, context).toBe(`FROM ${host}/acme/bad:1`);
    });
  });

  it("resolve prints the truth or one line on stderr and exits 2; diff exits 2 naming what it could not read", { timeout: 240_000 }, async () => {
    await each(async (fault) => {
      const host = proxies.get(fault)!.host;
      const resolve = await runCli(...LIMITS, "resolve", `${host}/acme/bad:1`);
      const context = `${fault} resolve: exit ${resolve.code}; ${resolve.stderr.slice(0, 600)}`;
      expectCleanOutput(resolve, context);
      if (resolve.code === 0) {
        expect(MAY_SUCCEED.has(fault), context).toBe(true);
        expect(resolve.stdout, context).toBe(`${bad.after.digest}\n`);
      } else {
        expect(resolve.code, context).toBe(2);
        expect(resolve.stdout, context).toBe("");
        expect(resolve.stderr, context).toMatch(/^digesta: [^\n]*acme\/bad[^\n]*\n$/);
      }

      const diff = await runCli(...LIMITS, "diff", `${host}/acme/bad@${bad.before.digest}`, `${host}/acme/bad@${bad.after.digest}`, "--platform", "linux/arm64", "--json");
      const diffContext = `${fault} diff: exit ${diff.code}; ${diff.stderr.slice(0, 600)}`;
      expectCleanOutput(diff, diffContext);
      // By digest, a wrong Docker-Content-Digest is ignored: the bytes are checked against the digest asked for.
      if ((MAY_SUCCEED.has(fault) || fault === "wrong-digest") && diff.code === 0) return;
      expect(diff.code, diffContext).toBe(2);
      const report = JSON.parse(diff.stdout) as { unreadable?: string[]; packagesUnknown?: boolean; warnings: string[] };
      expect(report.unreadable?.length, diffContext).toBeGreaterThan(0);
      for (const warning of report.warnings) expect(warning, diffContext).not.toContain("\n");
    });
  });
});

describe("an index naming a platform image the registry no longer has", () => {
  // The tag's new index names an arm64 image that was deleted (or never pushed whole): every writer confirms each digest
  // it would write (src/engine/confirm.ts) and leaves that pin alone, failed with one line; the amd64 pin beside it moves.
  let torn: { before: PushedBuild; after: PushedBuild };
  const arm = platformKey(LINUX_ARM64);
  const amd = platformKey(LINUX_AMD64);
  let original: string;
  let reason: string;
  beforeAll(async () => {
    torn = await movingTag(reg, "acme/torn", "1", { platforms: MULTI_ARCH });
    await deleteManifest(reg, "acme/torn", torn.after.platforms[arm]!);
    original = `image: ${reg.host}/acme/torn:1@${torn.before.platforms[arm]}\nimage: ${reg.host}/acme/torn:1@${torn.before.platforms[amd]}\n`;
    reason = `names ${torn.after.platforms[arm]} for linux/arm64, but the registry does not have it`;
  });
  const moved = () => original.replace(torn.before.platforms[amd]!, torn.after.platforms[amd]!);

  for (const flags of [["--no-diff"], [], ["--dry-run"]]) {
    it(`update ${flags.join(" ") || "(with package diffs)"} moves no pin there: it reports it failed, exits 2, and the other platform's pin moves`, async () => {
      const dir = await tree({ "a.yaml": original });
      const update = await runCli("update", dir, ...flags, "--json");
      expectCleanOutput(update, update.stderr);
      expect(update.code, update.stderr).toBe(2);
      const report = JSON.parse(update.stdout) as { failed: Failure[]; updated: { to: string }[] };
      expect(report.failed).toHaveLength(1);
      expect(report.failed[0]!.reason).toContain(reason);
      expect(report.failed[0]!.reason).not.toContain("\n");
      expect(report.updated.map((u) => u.to)).toEqual([torn.after.platforms[amd]]);
      expect(await readFile(join(dir, "a.yaml"), "utf8")).toBe(flags.includes("--dry-run") ? original : moved());
    });
  }

  it("a second update still reports the pin failed, never up to date", async () => {
    const dir = await tree({ "a.yaml": original });
    expect((await runCli("update", dir, "--no-diff")).code).toBe(2);
    const again = await runCli("update", dir, "--no-diff", "--json");
    expect(again.code, again.stderr).toBe(2);
    const report = JSON.parse(again.stdout) as { failed: Failure[]; upToDate: { digest: string }[] };
    expect(report.failed.map((f) => f.reason)).toEqual([expect.stringContaining(reason)]);
    expect(report.upToDate.map((p) => p.digest)).toEqual([torn.after.platforms[amd]]);
    expect(await readFile(join(dir, "a.yaml"), "utf8")).toBe(moved());
  });

  it("check calls both pins stale (their tag moved) without reading the images they would move to, and exits 1", async () => {
    // Read-only, at the follower's floor: whether the registry holds the arm64 image is what update confirms.
    const dir = await tree({ "a.yaml": original });
    const check = await runCli("check", dir, "--json");
    expect(check.code, check.stderr).toBe(1);
    const report = JSON.parse(check.stdout) as { updated: { to: string }[]; failed: Failure[] };
    expect(report.failed).toEqual([]);
    expect(report.updated.map((u) => u.to).sort()).toEqual([torn.after.platforms[amd], torn.after.platforms[arm]].sort());
  });

  it("pin --platform does not pin the tag to it, and pins the platform the registry has", async () => {
    const text = `FROM ${reg.host}/acme/torn:1\n`;
    const dir = await tree({ Dockerfile: text });
    const pin = await runCli("pin", dir, "--platform", "linux/arm64", "--json");
    expectCleanOutput(pin, pin.stderr);
    expect(pin.code, pin.stderr).toBe(2);
    const report = JSON.parse(pin.stdout) as { failed: Failure[] };
    expect(report.failed.map((f) => f.reason)).toEqual([expect.stringContaining(reason)]);
    expect(await readFile(join(dir, "Dockerfile"), "utf8")).toBe(text);
    expect((await runCli("pin", dir, "--platform", "linux/amd64")).code).toBe(0);
    expect(await readFile(join(dir, "Dockerfile"), "utf8")).toBe(`FROM ${reg.host}/acme/torn:1@${torn.after.platforms[amd]}\n`);
  });

  for (const diff of [true, false]) {
    it(`the app's pull request (one-shot, as the Action runs it${diff ? "" : ", diff off"}) moves only the other platform's pin and reports the image failed`, async () => {
      const fake = new GitHubFake();
      fake.install();
      try {
        fake.addInstallation(7, "someone");
        const config: Record<string, string> = diff ? {} : { ".github/digesta.yml": "diff:\n  enabled: false\n" };
        fake.createRepository("someone", "torn", { "a.yaml": original, ...config }, { installationId: 7 });
        fake.addToken("ghs_token");
        const octokit = new ProbotOctokit({ auth: { token: "ghs_token" }, retry: { enabled: false }, throttle: { enabled: false } });
        const outcome = await runOneShot({
          owner: "someone",
          repo: "torn",
          token: "ghs_token",
          octokit,
          session: createSessionFactory({ allowPrivateRegistries: [reg.host] })(),
          log: pino({ level: "silent" }),
        });
        expect(outcome).toMatchObject({ status: "done", updates: 1, failed: 1 });
        expect(outcome.status === "done" && outcome.failures.map((f) => f.reason)).toEqual([expect.stringContaining(reason)]);
        expect(fake.files("someone", "torn", ALL_BRANCH)["a.yaml"]).toBe(moved());
        const [pull] = fake.pulls("someone", "torn");
        // The pull request moves the amd64 pin only, and says why the arm64 one is not moved.
        const [moves, couldNot] = pull!.body.split("### Could not check");
        expect(moves).not.toContain(torn.after.platforms[arm]!.slice(7, 19));
        expect(couldNot).toContain(`${torn.after.platforms[arm]} for linux/arm64, but the registry does not have it`);
      } finally {
        fake.uninstall();
      }
    });
  }
});

describe("the app's registry client (the private-address check, the app's settings) under the same faults", () => {
  it("follows a pin to the registry's truth or fails with one line naming the image, for every fault", { timeout: 120_000 }, async () => {
    await each(async (fault) => {
      const host = proxies.get(fault)!.host;
      const env = { DIGESTA_TIMEOUT: "2", DIGESTA_DEADLINE: "5", DIGESTA_RETRIES: "1", DIGESTA_RETRY_DELAY: "0.01", DOCKER_CONFIG: "/nonexistent" };
      const session = createSessionFactory({ allowPrivateRegistries: [host], insecureRegistries: [host], env })();
      const pin = { registry: host, repository: "acme/bad", tag: "1", digest: bad.before.platforms[platformKey(LINUX_ARM64)]! };
      const outcome = await session.follower.follow(pin as never).then(
        (followed) => ({ ok: true as const, current: followed.current }),
        (error: unknown) => ({ ok: false as const, message: error instanceof Error ? error.message : String(error) }),
      );
      if (outcome.ok) {
        expect(MAY_SUCCEED.has(fault), `${fault}: followed through the fault`).toBe(true);
        expect(outcome.current).toBe(bad.after.platforms[platformKey(LINUX_ARM64)]);
      } else {
        expect(outcome.message, fault).not.toContain("\n");
        expect(outcome.message, fault).toContain(`${host}/acme/bad`);
      }
    });
  });
});
