// Registry mirrors against two real registries on two loopback origins: the canonical one on 127.0.0.1 (stopped
// after set-up, so any request to it fails) and its mirror on 127.0.0.2, which holds a different build of the tag.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRegistryClient } from "../../src/registry/client.js";
import { staticCredentials } from "../../src/registry/credentials.js";
import { RegistryError } from "../../src/registry/errors.js";
import { parseMirrors } from "../../src/registry/mirrors.js";
import { runCli } from "../support/cli.js";
import { pushBuild, sha256 } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

let canonical: TestRegistry;
let mirror: TestRegistry;
let lockedMirror: TestRegistry;
/** What the canonical registry's tag pointed to, and what the mirror's points to. */
let canonicalDigest: string;
let mirrorDigest: string;

beforeAll(async () => {
  [canonical, mirror, lockedMirror] = await Promise.all([
    startRegistry(),
    startRegistry({ address: "127.0.0.2" }),
    startRegistry({ address: "127.0.0.2", auth: "htpasswd" }),
  ]);
  canonicalDigest = (await pushBuild(canonical, "team/app", "1.0")).digest;
  mirrorDigest = (await pushBuild(mirror, "team/app", "1.0", { generation: 2 })).digest;
  await pushBuild(lockedMirror, "mirrors/canonical/team/app", "1.0");
  // From here on, nothing answers at the canonical address: whatever works, worked through the mirror.
  await canonical.stop();
}, 60_000);

afterAll(async () => {
  await Promise.all([mirror?.stop(), lockedMirror?.stop()]);
});

const name = () => ({ registry: canonical.host, repository: "team/app" });
const client = (mirrors: string[], extra: Parameters<typeof createRegistryClient>[0] = {}) =>
  createRegistryClient({ env: {}, credentials: staticCredentials({}), mirrors, retries: 0, backoff: { baseMs: 1 }, ...extra });

async function failure(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

describe("reading through a mirror", () => {
  it("reads the canonical name's tag from the mirror, and verifies the manifest the mirror sent", async () => {
    const registry = client([`${canonical.host}=${mirror.host}`]);
    expect((await registry.headManifest(name(), "1.0")).digest).toBe(mirrorDigest);
    const fetched = await registry.getManifest(name(), "1.0");
    expect(fetched.digest).toBe(mirrorDigest);
    expect(sha256(fetched.bytes)).toBe(mirrorDigest);
    expect(mirrorDigest).not.toBe(canonicalDigest);
  });

  it("puts the mirror's prefix before the repository", async () => {
    const credentials = staticCredentials({ [lockedMirror.host]: { kind: "basic", username: lockedMirror.username!, password: lockedMirror.password! } });
    const registry = client([`${canonical.host}=${lockedMirror.host}/mirrors/canonical`], { credentials });
    expect((await registry.getManifest(name(), "1.0")).digest).toMatch(/^sha256:/);
  });

  it("sends the mirror its own credentials, never the canonical registry's", async () => {
    // Credentials for the canonical host only: the mirror gets none, and refuses.
    const credentials = staticCredentials({ [canonical.host]: { kind: "basic", username: lockedMirror.username!, password: lockedMirror.password! } });
    const error = await failure(client([`${canonical.host}=${lockedMirror.host}/mirrors/canonical`], { credentials }).getManifest(name(), "1.0"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain(`${lockedMirror.host} is the mirror of ${canonical.host}`);
  });

  it("fails when the mirror fails, naming it, and does not fall back to the canonical registry", async () => {
    const registry = client([`${canonical.host}=127.0.0.2:1`]);
    const error = await failure(registry.headManifest(name(), "1.0"));
    expect(error.code).toBe("NETWORK");
    expect(error.message).toContain("127.0.0.2:1");
    expect(error.message).toContain(`does not fall back to ${canonical.host}`);
  });

  it("leaves registries without a mirror alone", async () => {
    const registry = client([`docker.io=${mirror.host}`]);
    expect((await registry.headManifest({ registry: mirror.host, repository: "team/app" }, "1.0")).digest).toBe(mirrorDigest);
  });

  it("takes mirrors from DIGESTA_REGISTRY_MIRRORS too", async () => {
    const registry = createRegistryClient({ env: { DIGESTA_REGISTRY_MIRRORS: ` ${canonical.host}=${mirror.host} ` }, credentials: staticCredentials({}), retries: 0 });
    expect((await registry.headManifest(name(), "1.0")).digest).toBe(mirrorDigest);
  });

  it("refuses a mirror whose answer does not hash to the digest it states", async () => {
    const body = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] });
    nock("https://mirror.example.test").get("/v2/").reply(200, "{}");
    nock("https://mirror.example.test")
      .get("/v2/library/nginx/manifests/1.27")
      .times(3)
      .reply(200, body, { "content-type": "application/vnd.oci.image.index.v1+json", "docker-content-digest": sha256("something else") });
    try {
      const error = await failure(
        createRegistryClient({ env: {}, credentials: staticCredentials({}), mirrors: ["docker.io=mirror.example.test"], retries: 2, backoff: { baseMs: 1 } }).getManifest(
          { registry: "docker.io", repository: "library/nginx" },
          "1.27",
        ),
      );
      expect(error.code).toBe("DIGEST_MISMATCH");
      expect(error.message).toContain("mirror.example.test is the mirror of docker.io");
    } finally {
      nock.cleanAll();
    }
  });
});

describe("mirror settings", () => {
  it.each([
    ["docker.io", /is not REGISTRY=MIRROR/],
    ["docker.io=", /is not REGISTRY=MIRROR/],
    ["docker.io=bad_host!", /docker\.io=bad_host!/],
    ["docker.io=m.example.com,index.docker.io=n.example.com", /two mirrors/],
    ["quay.io=quay.io", /its own mirror/],
  ])("refuses %s with a message naming it", (entry, message) => {
    expect(() => parseMirrors([entry], "--registry-mirror")).toThrow(message);
  });

  it("reads Docker Hub's aliases as docker.io, and a prefix after the host", () => {
    expect(parseMirrors(["index.docker.io=https://mirror.example.com/hub/"], "x")).toEqual(new Map([["docker.io", { host: "mirror.example.com", prefix: "hub" }]]));
  });
});

describe("digesta update --registry-mirror", () => {
  it("writes the digest the mirror states under the canonical name", async () => {
    const dir = await mkdtemp(join(tmpdir(), "digesta-mirror-"));
    const old = sha256("an old build");
    const file = join(dir, "deploy.yaml");
    await writeFile(file, `image: ${canonical.host}/team/app:1.0@${old}\n`);
    const run = await runCli("--registry-mirror", `${canonical.host}=${mirror.host}`, "update", dir, "--no-diff");
    expect(run.stderr).not.toMatch(/error|fail/i);
    expect(run.code).toBe(0);
    expect(await readFile(file, "utf8")).toBe(`image: ${canonical.host}/team/app:1.0@${mirrorDigest}\n`);
  });

  it("changes nothing and exits 2 when the mirror cannot be read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "digesta-mirror-"));
    const old = sha256("an old build");
    const file = join(dir, "deploy.yaml");
    const before = `image: ${canonical.host}/team/app:1.0@${old}\n`;
    await writeFile(file, before);
    const run = await runCli("--retries", "0", "--registry-mirror", `${canonical.host}=127.0.0.2:1`, "update", dir, "--no-diff");
    expect(run.code).toBe(2);
    expect(run.stdout + run.stderr).toContain(`127.0.0.2:1 is the mirror of ${canonical.host}`);
    expect(await readFile(file, "utf8")).toBe(before);
  });

  it("stops with one line on a mirror setting it cannot use", async () => {
    const run = await runCli("--registry-mirror", "nonsense", "resolve", `${canonical.host}/team/app:1.0`);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain('--registry-mirror: "nonsense" is not REGISTRY=MIRROR');
  });
});
