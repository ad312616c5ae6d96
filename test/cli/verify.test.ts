// `digesta verify` against a real registry holding cosign signatures the test makes with its own keys.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Digest } from "../../src/reference/types.js";
import { keyPair as makeKeyPair, signWithKeys, type TestKey } from "../support/cosign.js";
import { pushBuild, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { runCli } from "../support/cli.js";

let reg: TestRegistry;
let dir: string;
const previousDockerConfig = process.env["DOCKER_CONFIG"];
const keys: Record<string, TestKey> = {};
const signImage = (repository: string, digest: Digest, signers: readonly TestKey[], options: { signed?: Digest; tamper?: boolean } = {}) =>
  signWithKeys(reg, repository, digest, signers, options);

beforeAll(async () => {
  process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-verify-test";
  reg = await startRegistry();
  dir = await mkdtemp(path.join(tmpdir(), "digesta-verify-"));
  const keyPair = (name: string, type: "ec" | "rsa" | "ed25519", curve?: string) => makeKeyPair(dir, name, type, curve);
  keys["p256"] = await keyPair("p256", "ec", "prime256v1");
  keys["p384"] = await keyPair("p384", "ec", "secp384r1");
  keys["rsa"] = await keyPair("rsa", "rsa");
  keys["ed25519"] = await keyPair("ed25519", "ed25519");
  keys["other"] = await keyPair("other", "ec", "prime256v1");
});

afterAll(async () => {
  if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
  else process.env["DOCKER_CONFIG"] = previousDockerConfig;
  await reg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("digesta verify", () => {
  it.each(["p256", "p384", "rsa", "ed25519"])("verifies a cosign signature made with a %s key, and shows the signed reference", async (kind) => {
    const build = await pushBuild(reg, `verify/${kind}`, "1");
    await signImage(`verify/${kind}`, build.digest, [keys["other"]!, keys[kind]!]);
    const run = await runCli("verify", `${reg.host}/verify/${kind}@${build.digest}`, "--key", keys[kind]!.file);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^verified\\t${reg.host}/verify/${kind}@${build.digest}\\tby key SHA256:[A-Za-z0-9+/]{43}\\tsigned as ${reg.host}/verify/${kind}\\n$`));
  });

  describe("refusals", () => {
    let build: PushedBuild;
    let other: PushedBuild;
    beforeAll(async () => {
      build = await pushBuild(reg, "verify/refused", "1");
      other = await pushBuild(reg, "verify/refused", "2", { generation: 2 });
    });

    it("exits 1, not signed, when the image has no signature", async () => {
      const run = await runCli("verify", `${reg.host}/verify/refused@${other.digest}`, "--key", keys["p256"]!.file);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^not signed\t/);
    });

    it("exits 1 when only another key signed it", async () => {
      await signImage("verify/refused", build.digest, [keys["other"]!]);
      const run = await runCli("verify", "--json", `${reg.host}/verify/refused@${build.digest}`, "--key", keys["p256"]!.file);
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout)).toMatchObject({ status: "invalid", reason: expect.stringMatching(/none valid/) });
    });

    it("exits 1 when the payload was changed after signing", async () => {
      const image = await pushBuild(reg, "verify/tampered", "1");
      await signImage("verify/tampered", image.digest, [keys["p256"]!], { tamper: true });
      const run = await runCli("verify", `${reg.host}/verify/tampered@${image.digest}`, "--key", keys["p256"]!.file);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^signature invalid\t/);
    });

    it("exits 1 when a valid signature signs another digest (copied from another image)", async () => {
      const image = await pushBuild(reg, "verify/copied", "1");
      await signImage("verify/copied", image.digest, [keys["p256"]!], { signed: other.digest });
      const run = await runCli("verify", `${reg.host}/verify/copied@${image.digest}`, "--key", keys["p256"]!.file);
      expect(run.code).toBe(1);
      expect(run.stdout).toContain(`names ${other.digest}, not this image`);
    });

    it("exits 2 when the registry cannot be reached, and for a reference without a digest or a bad key", async () => {
      expect((await runCli("verify", `127.0.0.1:9/verify/x@${build.digest}`, "--key", keys["p256"]!.file)).code).toBe(2);
      expect((await runCli("verify", `${reg.host}/verify/refused:1`, "--key", keys["p256"]!.file)).stderr).toMatch(/has no digest/);
      const bad = path.join(dir, "bad.pub");
      await writeFile(bad, "not a key\n");
      const run = await runCli("verify", `${reg.host}/verify/refused@${build.digest}`, "--key", bad);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/not a PEM public key/);
    });
  });
});
