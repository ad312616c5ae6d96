// Pins whose digest or tag the registry no longer has, end to end: check and update on a real registry that deleted them.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteManifest, movingTag, pushBuild, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { runCli } from "../support/cli.js";

let reg: TestRegistry;
let kept: PushedBuild;
let moved: { before: PushedBuild; after: PushedBuild };
let deleted: PushedBuild;
const previousDockerConfig = process.env["DOCKER_CONFIG"];
const dirs: string[] = [];

beforeAll(async () => {
  process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-vanished-test";
  reg = await startRegistry();
  kept = await pushBuild(reg, "gone/kept", "1");
  moved = await movingTag(reg, "gone/moved", "1");
  await deleteManifest(reg, "gone/moved", moved.before.digest);
  deleted = await pushBuild(reg, "gone/deleted", "1");
  await deleteManifest(reg, "gone/deleted", deleted.digest);
});

afterAll(async () => {
  if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
  else process.env["DOCKER_CONFIG"] = previousDockerConfig;
  await reg?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function checkout(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "digesta-vanished-"));
  dirs.push(dir);
  await writeFile(path.join(dir, "deploy.yaml"), text);
  return dir;
}

describe("vanished pins", () => {
  it("check exits 1 for a pin whose tag is gone, though its digest is still there and nothing is stale", async () => {
    const dir = await checkout(`image: ${reg.host}/gone/kept:1@${kept.digest}\nimage: ${reg.host}/gone/kept:renamed@${kept.digest}\n`);
    const run = await runCli("check", dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`^vanished\\t${reg.host}/gone/kept:renamed@${kept.digest}\\t.*the tag no longer exists.*\\tdeploy.yaml:2\\n`, "m"));
    expect(run.stdout).toContain(`up to date\t${reg.host}/gone/kept:1`);
    expect(run.stdout).not.toMatch(/^failed/m);
    const json = JSON.parse((await runCli("check", "--json", dir)).stdout) as { vanished: { vanished: string }[]; failed: unknown[] };
    expect(json.vanished.map((v) => v.vanished)).toEqual(["tag"]);
    expect(json.failed).toEqual([]);
  });

  it("update moves a pin whose digest is gone to where its tag leads, and says first that it had vanished", async () => {
    const text = `image: ${reg.host}/gone/moved:1@${moved.before.digest}\n`;
    const dir = await checkout(text);
    const run = await runCli("update", "--no-diff", dir);
    expect(run.code).toBe(0);
    expect(await readFile(path.join(dir, "deploy.yaml"), "utf8")).toBe(text.replace(moved.before.digest, moved.after.digest));
    const lines = run.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^vanished\t.*gone\/moved:1@.*no longer exists.*a deploy from this pin fails/);
    expect(lines[1]).toMatch(/^updated\t.*gone\/moved:1/);
  });

  it("update reports a pin whose tag and digest are both gone, leaves the file, and exits 1; check exits 1", async () => {
    const text = `image: ${reg.host}/gone/deleted:1@${deleted.digest}\n`;
    const dir = await checkout(text);
    const update = await runCli("update", "--no-diff", "--json", dir);
    expect(update.code).toBe(1);
    const result = JSON.parse(update.stdout) as { vanished: { vanished: string; reason: string; movedTo?: string }[]; failed: unknown[] };
    expect(result.vanished).toEqual([expect.objectContaining({ vanished: "tag-and-digest", reason: expect.stringMatching(/neither the tag nor the pinned digest/) })]);
    expect(result.vanished[0]!.movedTo).toBeUndefined();
    expect(result.failed).toEqual([]);
    expect(await readFile(path.join(dir, "deploy.yaml"), "utf8")).toBe(text);
    expect((await runCli("check", dir)).code).toBe(1);
  });
});
