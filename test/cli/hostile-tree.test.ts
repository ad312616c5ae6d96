// `digesta check` and `update` on a hostile tree, against a real registry: files changed and folders swapped for
// links while a run is in flight, names that are not UTF-8, files nobody could read.
import { createServer, type Server } from "node:http";
import { mkdir, mkdtemp, readFile, rename, rm, symlink, truncate, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MAX_REFERENCES_PER_FILE } from "../../src/scan/directory.js";
import { joinPathBytes } from "../../src/scan/names.js";
import { runCli } from "../support/cli.js";
import { movingTag, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

let reg: TestRegistry;
let app: { before: PushedBuild; after: PushedBuild };
let relay: Relay;
const temporaries: string[] = [];
const previousDockerConfig = process.env["DOCKER_CONFIG"];

/**
 * A loopback relay in front of the registry that runs `onManifest` when the first request for a tag's manifest
 * arrives, and forwards it only after: what a person editing the tree while digesta waits on the network does.
 */
interface Relay {
  readonly host: string;
  onManifest: (() => Promise<void>) | undefined;
  close(): Promise<void>;
}

async function startRelay(upstream: string): Promise<Relay> {
  const relay: Relay & { server?: Server } = { host: "", onManifest: undefined, close: async () => undefined };
  const server = createServer((request, response) => {
    void (async () => {
      const hook = relay.onManifest;
      if (hook && /\/manifests\/latest$/.test(request.url ?? "")) {
        relay.onManifest = undefined;
        await hook();
      }
      const answer = await fetch(`${upstream}${request.url}`, {
        method: request.method!,
        headers: Object.fromEntries(Object.entries(request.headers).filter(([name]) => name !== "host")) as Record<string, string>,
      });
      const body = Buffer.from(await answer.arrayBuffer());
      const headers: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (name !== "content-encoding" && name !== "transfer-encoding") headers[name] = value;
      });
      response.writeHead(answer.status, headers).end(request.method === "HEAD" ? undefined : body);
    })().catch((error: unknown) => response.writeHead(502).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return Object.assign(relay, {
    host: `127.0.0.1:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

beforeAll(async () => {
  process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-hostile-tree-test";
  reg = await startRegistry();
  app = await movingTag(reg, "acme/app", "latest");
  relay = await startRelay(reg.url);
});

afterAll(async () => {
  if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
  else process.env["DOCKER_CONFIG"] = previousDockerConfig;
  await relay?.close();
  await reg?.stop();
});

afterEach(async () => {
  relay.onManifest = undefined;
  for (const dir of temporaries.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function folder(prefix = "digesta-hostile-"): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  temporaries.push(dir);
  return dir;
}

const pin = () => `image: ${relay.host}/acme/app:latest@${app.before.digest}\n`;
const moved = (text: string) => text.replace(app.before.digest, app.after.digest);

describe("a file changed while digesta update is in flight", () => {
  it("is left alone and reported when another image takes the pin's place (same length) or a line is added", async () => {
    const dir = await folder();
    await writeFile(path.join(dir, "swapped.yaml"), pin());
    await writeFile(path.join(dir, "appended.yaml"), pin());
    await writeFile(path.join(dir, "calm.yaml"), pin());
    const swapped = pin().replace("acme/app", "acme/zzz");
    relay.onManifest = async () => {
      await writeFile(path.join(dir, "swapped.yaml"), swapped);
      await appendFile(path.join(dir, "appended.yaml"), "# added meanwhile\n");
    };

    const run = await runCli("update", dir, "--no-diff", "--json");

    expect(run.code).toBe(2);
    const result = JSON.parse(run.stdout) as { files: { path: string; ok: boolean; error?: string }[] };
    expect(result.files).toEqual([
      { path: "appended.yaml", ok: false, error: "the file changed since it was scanned; left as it is" },
      { path: "calm.yaml", ok: true },
      { path: "swapped.yaml", ok: false, error: "the file changed since it was scanned; left as it is" },
    ]);
    expect(await readFile(path.join(dir, "swapped.yaml"), "utf8")).toBe(swapped);
    expect(await readFile(path.join(dir, "appended.yaml"), "utf8")).toBe(`${pin()}# added meanwhile\n`);
    expect(await readFile(path.join(dir, "calm.yaml"), "utf8")).toBe(moved(pin()));
  });

  it("never writes outside the tree when a folder is swapped for a link to an outside folder", async () => {
    const dir = await folder();
    const outside = await folder("digesta-outside-");
    await mkdir(path.join(dir, "sub"));
    await writeFile(path.join(dir, "sub", "x.yaml"), pin());
    // The same bytes outside: nothing but the link tells the two apart.
    await writeFile(path.join(outside, "x.yaml"), pin());
    relay.onManifest = async () => {
      await rename(path.join(dir, "sub"), path.join(dir, "sub.moved"));
      await symlink(outside, path.join(dir, "sub"));
    };

    const run = await runCli("update", dir, "--no-diff");

    expect(run.code).toBe(2);
    expect(run.stdout).toContain("not written sub/x.yaml: a symbolic link in its path (not followed)");
    expect(await readFile(path.join(outside, "x.yaml"), "utf8")).toBe(pin());
    expect(await readFile(path.join(dir, "sub.moved", "x.yaml"), "utf8")).toBe(pin());
  });
});

describe("names that are not UTF-8", () => {
  it("are scanned, checked and updated, shown visibly in text and escaped reversibly in JSON", async () => {
    const dir = await folder();
    await writeFile(joinPathBytes(dir, "caf\udce9.yaml"), pin());
    await mkdir(joinPathBytes(dir, "dir\udcfe"));
    await writeFile(joinPathBytes(dir, "dir\udcfe/x.yaml"), pin());

    const check = await runCli("check", dir);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain("caf\\xe9.yaml:1, dir\\xfe/x.yaml:1");

    const scan = await runCli("scan", dir, "--json");
    // The escape `\udcXX` is in the JSON text itself, so any JSON reader gives back the byte as U+DCXX.
    expect(scan.stdout).toContain('"path": "caf\\udce9.yaml"');
    expect((JSON.parse(scan.stdout) as { path: string }[]).map((p) => p.path)).toEqual(["caf\udce9.yaml", "dir\udcfe/x.yaml"]);

    const update = await runCli("update", dir, "--no-diff");
    expect(update.code).toBe(0);
    expect(await readFile(joinPathBytes(dir, "caf\udce9.yaml"), "utf8")).toBe(moved(pin()));
    expect(await readFile(joinPathBytes(dir, "dir\udcfe/x.yaml"), "utf8")).toBe(moved(pin()));
  });
});

describe("files not scanned", () => {
  it("are listed with their reasons, and make check and update exit 2 when they could hold a pin", async () => {
    const dir = await folder();
    const current = `image: ${relay.host}/acme/app:latest@${app.after.digest}\n`;
    await writeFile(path.join(dir, "ok.yaml"), current);
    await writeFile(path.join(dir, "packed.txt"), current.repeat(MAX_REFERENCES_PER_FILE + 1));
    await writeFile(path.join(dir, "big.yaml"), current);
    await truncate(path.join(dir, "big.yaml"), 10 * 1024 * 1024 + 1);

    const check = await runCli("check", dir);
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(/^not scanned big\.yaml: larger than 10485760 bytes/m);
    expect(check.stderr).toMatch(/^not scanned packed\.txt: more than 10000 references/m);

    const json = await runCli("check", dir, "--json");
    expect(json.code).toBe(2);
    expect((JSON.parse(json.stdout) as { notScanned: unknown }).notScanned).toEqual([
      { path: "big.yaml", kind: "too-large", reason: expect.stringMatching(/^larger than/) },
      { path: "packed.txt", kind: "too-many-references", reason: expect.stringMatching(/^more than/) },
    ]);
    expect((await runCli("update", dir, "--no-diff")).code).toBe(2);
  });

  it("binary files are listed but do not fail check", async () => {
    const dir = await folder();
    await writeFile(path.join(dir, "ok.yaml"), `image: ${relay.host}/acme/app:latest@${app.after.digest}\n`);
    await writeFile(path.join(dir, "logo.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));

    const check = await runCli("check", dir, "--json");
    expect(check.code).toBe(0);
    expect((JSON.parse(check.stdout) as { notScanned: unknown }).notScanned).toEqual([
      { path: "logo.png", kind: "binary", reason: "binary (NUL byte in the first 8 KiB)" },
    ]);
  });
});
