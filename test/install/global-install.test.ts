import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { movingTag, pushReferrer, pushReferrersTagIndex, type PushedBuild } from "../support/images.js";
import { BUNDLE_MEDIA_TYPE, dsseBundle, TestCa, TestLog, trustedRoot } from "../support/sigstore.js";
import { startNpmRegistry, type NpmRegistry } from "../support/npm-registry.js";
import { runProcess as run, type ProcessRun as Run } from "../support/process.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

// The CLI as a user gets it: `npm pack`, then `npm install -g` of the tarball into a fresh prefix, outside the
// checkout, from a registry that has only digesta's production dependencies (test/support/npm-registry.ts), and the
// installed `digesta` run with nothing of the checkout in reach. .ci/run packs the tarball once and hands it over in
// DIGESTA_PACKED; without it the test packs a clean copy of the working tree itself.

const ROOT = resolve(import.meta.dirname, "../..");
const gitFiles = promisify(execFile);
const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string; devDependencies: Record<string, string> };

/** `npm pack` of a copy of the working tree (tracked and new files, as git would commit them): no stale build output. */
async function packWorkingTree(out: string): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), "digesta-pack-src-"));
  const { stdout } = await gitFiles("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, maxBuffer: 64 << 20 });
  for (const file of stdout.split("\0").filter(Boolean)) {
    if (!existsSync(join(ROOT, file))) continue; // deleted, not yet committed
    await mkdir(dirname(join(copy, file)), { recursive: true });
    await cp(join(ROOT, file), join(copy, file), { verbatimSymlinks: true });
  }
  await symlink(join(ROOT, "node_modules"), join(copy, "node_modules"));
  const packed = await run("npm", ["pack", "--json", "--pack-destination", out], { cwd: copy, env: process.env });
  await rm(copy, { recursive: true, force: true });
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
  const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as [{ filename: string }];
  return join(out, filename);
}

describe("the packed CLI, installed globally", { timeout: 300_000 }, () => {
  let work: string;
  let prefix: string;
  let npmRegistry: NpmRegistry;
  let reg: TestRegistry;
  let build: { before: PushedBuild; after: PushedBuild };
  let install: Run;
  let tarball: string;
  /** Only the fresh prefix's bin and node itself on PATH; HOME and the working directory away from the checkout. */
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "digesta-install-"));
    prefix = join(work, "prefix");
    tarball = process.env["DIGESTA_PACKED"] ?? (await packWorkingTree(work));
    [npmRegistry, reg] = await Promise.all([startNpmRegistry(join(ROOT, "package-lock.json")), startRegistry()]);
    build = await movingTag(reg, "tools/app", "1");
    env = { PATH: `${join(prefix, "bin")}:${dirname(process.execPath)}`, HOME: work, LANG: "C.UTF-8" };
    install = await run(
      "npm",
      ["install", "--global", tarball, "--prefix", prefix, "--registry", npmRegistry.url, "--cache", join(work, "npm-cache"), "--no-audit", "--no-fund", "--no-update-notifier"],
      // npm itself from the caller's PATH; no user configuration of the machine's.
      { cwd: work, env: { ...env, PATH: process.env["PATH"], npm_config_userconfig: join(work, "npmrc") } },
    );
  }, 300_000);
  afterAll(async () => {
    await Promise.all([npmRegistry?.stop(), reg?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("installs from the tarball with production dependencies only", async () => {
    expect(install.code, install.stderr).toBe(0);
    expect(existsSync(join(prefix, "bin", "digesta"))).toBe(true);
    const installed = join(prefix, "lib", "node_modules", "digesta");
    const top = await readdir(installed);
    expect(top.filter((name) => !["node_modules", "LICENSE"].includes(name)).sort()).toEqual(["README.md", "app.yml", "bin", "dist", "package.json"]);
    for (const dev of Object.keys(pkg.devDependencies)) expect(existsSync(join(installed, "node_modules", dev)), dev).toBe(false);
    // Everything came from the loopback registry, which serves no dev dependency.
    expect(npmRegistry.requested).toContain("probot");
  });

  it("runs `digesta --version` from PATH, outside the checkout", async () => {
    const version = await run("digesta", ["--version"], { cwd: work, env });
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it("checks and updates a repository against a real registry", async () => {
    const repository = join(work, "repository");
    await mkdir(repository);
    const pin = (digest: string) => `image: ${reg.host}/tools/app:1@${digest}\n`;
    await writeFile(join(repository, "deploy.yaml"), pin(build.before.digest));

    const stale = await run("digesta", ["check", "."], { cwd: repository, env });
    expect(stale.code, stale.stderr).toBe(1);
    expect(stale.stdout).toMatch(/^stale\t.*\/tools\/app:1\b.*\tdeploy\.yaml:1$/m);

    const update = await run("digesta", ["update", "--no-diff", "."], { cwd: repository, env });
    expect(update.code, update.stderr).toBe(0);
    expect(await readFile(join(repository, "deploy.yaml"), "utf8")).toBe(pin(build.after.digest));

    const fresh = await run("digesta", ["check", "."], { cwd: repository, env });
    expect(fresh.code, fresh.stderr + fresh.stdout).toBe(0);
  });

  it("verifies a keyless signature: sigstore-js loaded by Node itself from the installed dependencies", async () => {
    const ca = new TestCa();
    const log = new TestLog();
    const identity = "https://github.com/acme/tools/.github/workflows/release.yaml@refs/heads/main";
    const issuer = "https://token.actions.githubusercontent.com";
    const image = build.after;
    const bundle = dsseBundle({ subject: image.digest, subjectName: `${reg.host}/tools/app`, certificate: ca.issue({ identity, issuer }), log });
    const pushed = await pushReferrer(reg, "tools/app", {
      subject: { digest: image.digest, size: image.size, mediaType: image.mediaType },
      artifactType: BUNDLE_MEDIA_TYPE,
      blobs: [{ mediaType: BUNDLE_MEDIA_TYPE, data: JSON.stringify(bundle) }],
    });
    await pushReferrersTagIndex(reg, "tools/app", image.digest, [pushed.descriptor]);
    const root = join(work, "trusted_root.json");
    await writeFile(root, JSON.stringify(trustedRoot(ca, log)));
    const args = ["verify", `${reg.host}/tools/app@${image.digest}`, "--certificate-oidc-issuer", issuer, "--trusted-root", root];
    const verified = await run("digesta", [...args, "--certificate-identity", identity], { cwd: work, env });
    expect(verified.stdout, verified.stderr).toMatch(/^verified\t.*\tby identity https:\/\/github\.com\/acme\/tools\//);
    expect(verified.code).toBe(0);
    const refused = await run("digesta", [...args, "--certificate-identity", "https://github.com/someone/else"], { cwd: work, env });
    expect(refused.code, refused.stderr).toBe(1);
  });
});
