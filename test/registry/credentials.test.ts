import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRegistryClient } from "../../src/registry/client.js";
import { credentialKey, dockerConfigCredentials } from "../../src/registry/credentials.js";
import { AMD64, APP, ORIGIN, image, manifestHeaders } from "./fixtures.js";

let root: string;
let bin: string;

/** A fake `docker-credential-NAME` that answers by the server address it reads on stdin, as real helpers do. */
const HELPER = `#!/bin/sh
read -r server
case "$server" in
  helper.example.test) printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-secret"}' "$server" ;;
  token.example.test) printf '{"Username":"<token>","Secret":"id-token-from-helper"}' ;;
  https://index.docker.io/v1/) printf '{"Username":"hub-user","Secret":"hub-secret"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "digesta-credentials-"));
  bin = join(root, "bin");
  await mkdir(bin);
  await writeFile(join(bin, "docker-credential-test"), HELPER);
  await writeFile(join(bin, "docker-credential-broken"), "#!/bin/sh\necho 'token expired, run login' >&2\nexit 3\n");
  await writeFile(join(bin, "docker-credential-slow"), "#!/bin/sh\nexec sleep 5\n");
  for (const name of ["test", "broken", "slow"]) await chmod(join(bin, `docker-credential-${name}`), 0o755);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

afterEach(() => {
  nock.cleanAll();
});

let configCount = 0;
async function configDir(config: unknown): Promise<string> {
  const dir = join(root, `config-${++configCount}`);
  await mkdir(dir);
  await writeFile(join(dir, "config.json"), typeof config === "string" ? config : JSON.stringify(config));
  return dir;
}

const env = (dir: string): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: dir, PATH: `${bin}:${process.env["PATH"] ?? "/usr/bin:/bin"}` });
const b64 = (text: string): string => Buffer.from(text).toString("base64");

describe("credentialKey", () => {
  it("normalises Docker config keys to registry hosts", () => {
    expect(credentialKey("https://index.docker.io/v1/")).toBe("docker.io");
    expect(credentialKey("index.docker.io")).toBe("docker.io");
    expect(credentialKey("https://ghcr.io/v2/")).toBe("ghcr.io");
    expect(credentialKey("http://LOCALHOST:5000")).toBe("localhost:5000");
    expect(credentialKey("registry.example.test")).toBe("registry.example.test");
  });
});

describe("dockerConfigCredentials", () => {
  it("reads auths entries: base64 auth, username/password and identity tokens, keyed any way Docker writes them", async () => {
    const dir = await configDir({
      auths: {
        "https://index.docker.io/v1/": { auth: b64("hub:pass:with:colons") },
        "https://ghcr.io": { username: "gh", password: "ghp" },
        "token.example.test": { identitytoken: "refresh-token" },
        "empty.example.test": {},
      },
    });
    const source = dockerConfigCredentials({ env: env(dir) });
    expect(await source.get("docker.io")).toEqual({ kind: "basic", username: "hub", password: "pass:with:colons" });
    expect(await source.get("ghcr.io")).toEqual({ kind: "basic", username: "gh", password: "ghp" });
    expect(await source.get("token.example.test")).toEqual({ kind: "identity-token", token: "refresh-token" });
    expect(await source.get("empty.example.test")).toBeUndefined();
    expect(await source.get("elsewhere.example.test")).toBeUndefined();
  });

  it("asks credHelpers[host] first, and falls back to auths when the helper has nothing", async () => {
    const dir = await configDir({
      credHelpers: { "helper.example.test": "test", "other.example.test": "test", "token.example.test": "test" },
      auths: { "other.example.test": { auth: b64("file-user:file-pass") } },
    });
    const source = dockerConfigCredentials({ env: env(dir) });
    expect(await source.get("helper.example.test")).toEqual({ kind: "basic", username: "helper-user", password: "helper-secret" });
    expect(await source.get("token.example.test")).toEqual({ kind: "identity-token", token: "id-token-from-helper" });
    expect(await source.get("other.example.test")).toEqual({ kind: "basic", username: "file-user", password: "file-pass" });
  });

  it("uses credsStore for every registry, passing Docker Hub's server address", async () => {
    const dir = await configDir({ credsStore: "test" });
    const source = dockerConfigCredentials({ env: env(dir) });
    expect(await source.get("docker.io")).toEqual({ kind: "basic", username: "hub-user", password: "hub-secret" });
    expect(await source.get("nothing.example.test")).toBeUndefined();
  });

  it("goes anonymous when a helper is missing, fails or hangs", async () => {
    const dir = await configDir({
      credHelpers: { "missing.example.test": "not-installed", "broken.example.test": "broken", "slow.example.test": "slow" },
      credsStore: "../../bin/sh",
    });
    const source = dockerConfigCredentials({ env: env(dir), helperTimeoutMs: 200 });
    expect(await source.get("missing.example.test")).toBeUndefined();
    expect(await source.get("broken.example.test")).toBeUndefined();
    expect(await source.get("slow.example.test")).toBeUndefined();
    // A credsStore name that tries to escape `docker-credential-*` is not run.
    expect(await source.get("any.example.test")).toBeUndefined();
  });

  it("goes anonymous when the config is missing or not JSON", async () => {
    expect(await dockerConfigCredentials({ env: { DOCKER_CONFIG: join(root, "nowhere") } }).get("docker.io")).toBeUndefined();
    const dir = await configDir("<html>not json</html>");
    expect(await dockerConfigCredentials({ env: env(dir) }).get("docker.io")).toBeUndefined();
  });

  it("is what the client uses by default, under $DOCKER_CONFIG", async () => {
    const img = image(AMD64);
    const dir = await configDir({ auths: { "registry.example.test": { auth: b64("cfg-user:cfg-pass") } } });
    nock(ORIGIN).get("/v2/").reply(401, "", { "www-authenticate": 'Basic realm="r"' });
    const scope = nock(ORIGIN)
      .matchHeader("authorization", `Basic ${b64("cfg-user:cfg-pass")}`)
      .head("/v2/team/app/manifests/1.0")
      .reply(200, "", manifestHeaders(img.manifest));
    const client = createRegistryClient({ env: { DOCKER_CONFIG: dir }, retries: 0 });
    await expect(client.headManifest(APP, "1.0")).resolves.toMatchObject({ digest: img.manifest.digest });
    expect(scope.isDone()).toBe(true);
  });
});
