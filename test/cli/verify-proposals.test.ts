// `update` and `check` verify each new digest they propose, as `verify:` in the configuration or --verify-config asks,
// against a real registry holding cosign signatures made with the test's own keys.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { keyPair, signWithKeys, type TestKey } from "../support/cosign.js";
import { deleteManifest, movingTag, pushBlob, pushIndex, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { runCli } from "../support/cli.js";
import { cosignSignatureTag } from "../../src/verify/cosign.js";

let reg: TestRegistry;
let dir: string;
let signer: TestKey;
let stranger: TestKey;
const moves: Record<string, { before: PushedBuild; after: PushedBuild }> = {};
const previousDockerConfig = process.env["DOCKER_CONFIG"];

beforeAll(async () => {
  process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-verify-proposals-test";
  reg = await startRegistry();
  dir = await mkdtemp(path.join(tmpdir(), "digesta-verify-proposals-"));
  signer = await keyPair(dir, "signer", "ec");
  stranger = await keyPair(dir, "stranger", "ed25519");
  for (const name of ["signed", "unsigned", "forged", "broken", "free", "gone"]) moves[name] = await movingTag(reg, `sig/${name}`, "1");
  await deleteManifest(reg, "sig/gone", moves["gone"]!.before.digest);
  await signWithKeys(reg, "sig/signed", moves["signed"]!.after.digest, [signer]);
  await signWithKeys(reg, "sig/forged", moves["forged"]!.after.digest, [stranger]);
  // A `.sig` tag that is an index, not a signature manifest: the registry's answer cannot be read as signatures.
  const blob = await pushBlob(reg, "sig/broken", "x");
  await pushIndex(reg, "sig/broken", [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: blob.digest, size: blob.size }], {
    tag: cosignSignatureTag(moves["broken"]!.after.digest),
  });
});

afterAll(async () => {
  if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
  else process.env["DOCKER_CONFIG"] = previousDockerConfig;
  await reg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const pin = (name: string) => `${reg.host}/sig/${name}:1@${moves[name]!.before.digest}`;
const moved = (name: string) => `${reg.host}/sig/${name}:1@${moves[name]!.after.digest}`;

async function checkout(names: readonly string[], verify?: unknown, written: (name: string) => string = pin): Promise<string> {
  const root = await mkdtemp(path.join(dir, "checkout-"));
  await writeFile(path.join(root, "deploy.yaml"), names.map((n) => `${n}:\n  image: ${written(n)}\n`).join(""));
  if (verify) {
    await mkdir(path.join(root, ".github"));
    await writeFile(path.join(root, ".github", "digesta.yml"), stringify({ verify }));
  }
  return root;
}

const rules = (required: boolean) => ({ required, images: [{ match: `${reg.host}/sig/*`, key: signer.pem }] });

describe("signatures of proposed digests", () => {
  it("shows each proposed digest's verdict and still moves them all when verification is not required", async () => {
    const root = await checkout(["signed", "unsigned", "forged"], rules(false));
    const run = await runCli("update", "--no-diff", root);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^verified\\t${moved("signed").replace(":1@", "@")}\\tby key SHA256:\\S+\\tsigned as ${reg.host}/sig/signed$`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^not signed\\t${reg.host}/sig/unsigned@${moves["unsigned"]!.after.digest}\\tno cosign signature and no Sigstore bundle among the referrers$`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^signature invalid\\t${reg.host}/sig/forged@`, "m"));
    const text = await readFile(path.join(root, "deploy.yaml"), "utf8");
    for (const name of ["signed", "unsigned", "forged"]) expect(text).toContain(moved(name));
  });

  it("with required: true, moves only the verified digest and lists the others as held back, untouched", async () => {
    const root = await checkout(["signed", "unsigned", "forged", "free"], rules(true));
    const run = await runCli("update", "--no-diff", root);
    expect(run.code).toBe(0);
    const text = await readFile(path.join(root, "deploy.yaml"), "utf8");
    expect(text).toContain(moved("signed"));
    expect(text).toContain(pin("unsigned"));
    expect(text).toContain(pin("forged"));
    // sig/free is under the glob too: unsigned, so held back.
    expect(text).toContain(pin("free"));
    expect(run.stdout).toMatch(new RegExp(`^held back\\t${reg.host}/sig/unsigned:1\\tsignature: not signed: no cosign signature and no Sigstore bundle among the referrers \\(new digest ${moves["unsigned"]!.after.digest}\\)$`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^held back\\t${reg.host}/sig/forged:1\\tsignature: signature invalid: `, "m"));
  });

  it("leaves an image no rule names alone, and --verify-config replaces the configuration's rules", async () => {
    const root = await checkout(["unsigned", "free"], { required: true, images: [{ match: `${reg.host}/sig/unsigned`, key: signer.pem }] });
    const run = await runCli("check", "--json", root);
    expect(run.code).toBe(1);
    const json = JSON.parse(run.stdout) as { updated: { image: string; signature?: { status: string } }[]; skipped: { reason: string }[] };
    expect(json.updated.map((u) => [u.image, u.signature])).toEqual([[`${reg.host}/sig/free`, undefined]]);
    expect(json.skipped.map((s) => s.reason)).toEqual([expect.stringMatching(/^signature: not signed: .* \(new digest sha256:[0-9a-f]{64}\)$/)]);

    const file = path.join(dir, "only-free.yml");
    await writeFile(file, stringify({ verify: { required: true, images: [{ match: `${reg.host}/sig/free`, key: stranger.pem }] } }));
    const replaced = JSON.parse((await runCli("check", "--json", "--verify-config", file, root)).stdout) as typeof json;
    expect(replaced.updated.map((u) => [u.image, u.signature?.status])).toEqual([[`${reg.host}/sig/unsigned`, undefined]]);
  });

  it("exits 2 when a signature could not be checked, holding that digest back when required", async () => {
    const root = await checkout(["broken", "signed"], rules(true));
    const run = await runCli("update", "--no-diff", root);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(new RegExp(`^held back\\t${reg.host}/sig/broken:1\\tsignature: could not check: `, "m"));
    const text = await readFile(path.join(root, "deploy.yaml"), "utf8");
    expect(text).toContain(pin("broken"));
    expect(text).toContain(moved("signed"));
  });

  it("still reports a pin whose digest vanished, when the digest its tag leads to is held back", async () => {
    const root = await checkout(["gone"], rules(true));
    const run = await runCli("update", "--no-diff", root);
    expect(run.stdout).toMatch(new RegExp(`^vanished\\t${reg.host}/sig/gone:1@${moves["gone"]!.before.digest}\\t.*held back: signature: not signed: no cosign signature`, "m"));
    expect(run.code).toBe(1);
    expect(await readFile(path.join(root, "deploy.yaml"), "utf8")).toContain(pin("gone"));
  });

  it("refuses a --verify-config that is not valid, naming the file, line and field, and writes nothing", async () => {
    const root = await checkout(["signed"]);
    const file = path.join(dir, "bad.yml");
    await writeFile(file, "required: true\nimages:\n  - match: x/**\n    identity: someone\n");
    const run = await runCli("update", "--verify-config", file, root);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${file}:3: images[0].issuer: a keyless signer needs \`issuer\``);
    expect(await readFile(path.join(root, "deploy.yaml"), "utf8")).toContain(pin("signed"));
  });
});

describe("signatures of the digests `pin` writes", () => {
  const tagged = (name: string) => `${reg.host}/sig/${name}:1`;
  const unpinned = (names: readonly string[], verify?: unknown) => checkout(names, verify, tagged);

  it("shows each digest's verdict and pins them all when verification is not required", async () => {
    const root = await unpinned(["signed", "unsigned", "forged"], rules(false));
    const run = await runCli("pin", root);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^pinned\\t${moved("signed")}\\tdeploy.yaml:2\\nverified\\t${reg.host}/sig/signed@${moves["signed"]!.after.digest}\\tby key SHA256:\\S+\\tsigned as ${reg.host}/sig/signed$`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^not signed\\t${reg.host}/sig/unsigned@${moves["unsigned"]!.after.digest}\\tno cosign signature and no Sigstore bundle among the referrers$`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^signature invalid\\t${reg.host}/sig/forged@`, "m"));
    const text = await readFile(path.join(root, "deploy.yaml"), "utf8");
    for (const name of ["signed", "unsigned", "forged"]) expect(text).toContain(moved(name));
  });

  it("with required: true, pins only the digest that verifies and holds the others back, in text and JSON, exit 0", async () => {
    const root = await unpinned(["signed", "unsigned", "forged"], rules(true));
    const dry = await runCli("pin", "--dry-run", "--json", root);
    expect(dry.code).toBe(0);
    const json = JSON.parse(dry.stdout) as {
      pinned: { image: string; digest: string; signature?: { status: string; by?: string } }[];
      failed: unknown[];
      heldBack: { image: string; tag: string; digest: string; reason: string; signature: { status: string }; occurrences: { line: number }[] }[];
    };
    expect(json.pinned.map((p) => [p.image, p.digest, p.signature?.status])).toEqual([[`${reg.host}/sig/signed`, moves["signed"]!.after.digest, "verified"]]);
    expect(json.pinned[0]!.signature!.by).toMatch(/^key SHA256:/);
    expect(json.failed).toEqual([]);
    expect(json.heldBack.map((h) => [h.image, h.tag, h.digest, h.signature.status, h.occurrences.map((o) => o.line)])).toEqual([
      [`${reg.host}/sig/forged`, "1", moves["forged"]!.after.digest, "invalid", [6]],
      [`${reg.host}/sig/unsigned`, "1", moves["unsigned"]!.after.digest, "not-signed", [4]],
    ]);
    expect(json.heldBack[1]!.reason).toBe(`signature: not signed: no cosign signature and no Sigstore bundle among the referrers (digest ${moves["unsigned"]!.after.digest})`);

    const run = await runCli("pin", root);
    expect(run.code).toBe(0);
    expect(await readFile(path.join(root, "deploy.yaml"), "utf8")).toBe(
      `signed:\n  image: ${moved("signed")}\nunsigned:\n  image: ${tagged("unsigned")}\nforged:\n  image: ${tagged("forged")}\n`,
    );
    expect(run.stdout).toMatch(new RegExp(`^held back\\t${tagged("unsigned")}\\tsignature: not signed: no cosign signature and no Sigstore bundle among the referrers \\(digest sha256:[0-9a-f]{64}\\)$`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^held back\\t${tagged("forged")}\\tsignature: signature invalid: `, "m"));
    expect(run.stderr).toContain("1 reference(s) to 1 image(s) pinned, 0 not looked up, 2 held back, 0 skipped");
    // What was held back is still unpinned: the lint says so.
    expect((await runCli("check", "--unpinned", root)).code).toBe(1);
  });

  it("exits 2 when a signature could not be checked, and --verify-config replaces the configuration's rules", async () => {
    const root = await unpinned(["broken", "free"], rules(true));
    const run = await runCli("pin", root);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(new RegExp(`^could not check\\t${reg.host}/sig/broken@`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^held back\\t${tagged("broken")}\\tsignature: could not check: `, "m"));
    expect(await readFile(path.join(root, "deploy.yaml"), "utf8")).toBe(`broken:\n  image: ${tagged("broken")}\nfree:\n  image: ${tagged("free")}\n`);

    const file = path.join(dir, "pin-rules.yml");
    await writeFile(file, stringify({ required: true, images: [{ match: `${reg.host}/sig/broken`, key: stranger.pem }] }));
    const replaced = await runCli("pin", "--verify-config", file, root);
    expect(replaced.code).toBe(2);
    // sig/free is no longer under any rule: pinned without a verdict.
    expect(await readFile(path.join(root, "deploy.yaml"), "utf8")).toBe(`broken:\n  image: ${tagged("broken")}\nfree:\n  image: ${moved("free")}\n`);
    expect(replaced.stdout).not.toMatch(/sig\/free@.*\n(verified|not signed)/);
  });
});
