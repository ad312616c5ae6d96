import { createHash } from "node:crypto";
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, symlink, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rewriteFiles } from "../../src/engine/files.js";
import type { PinResolution, UpdatePlan } from "../../src/plan/types.js";
import { pinKey, planUpdates } from "../../src/plan/plan.js";
import { scanDirectory } from "../../src/scan/directory.js";
import { joinPathBytes } from "../../src/scan/names.js";
import { digest } from "../factories/pins.js";

let root: string;
const temporaries: string[] = [];
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "digesta-files-"));
  temporaries.push(root);
});
afterEach(async () => {
  for (const dir of temporaries.splice(0)) await rm(dir, { recursive: true, force: true });
});

const sha256 = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");

/** A plan moving every `from` in `text` (the content of `file` as scanned), with the fingerprint of `text`. */
function planFor(file: string, text: string, from = digest("a"), to = digest("b")) {
  const offsets: number[] = [];
  for (let at = text.indexOf(from); at >= 0; at = text.indexOf(from, at + 1)) offsets.push(at);
  const plan: UpdatePlan = {
    updates: [],
    upToDate: [],
    failed: [],
    vanished: [],
    skipped: [],
    edits: new Map([[file, offsets.map((digestOffset) => ({ digestOffset, from, to }))]]),
  };
  return { plan, fingerprints: new Map([[file, sha256(Buffer.from(text, "latin1"))]]) };
}

async function rewrite(file: string, text: string) {
  const { plan, fingerprints } = planFor(file, text);
  return rewriteFiles(root, plan, fingerprints);
}

/** The plan a real scan of `root` gives, moving every pin of `acme/app` from digest a to b. */
async function scanAndPlan() {
  const scan = await scanDirectory(root);
  const resolutions = new Map<string, PinResolution>(scan.pinned.map((p) => [pinKey(p.reference), { ok: true, current: digest("b"), kind: "index" }]));
  const plan = planUpdates(scan, resolutions);
  return { scan, plan };
}

describe("rewriteFiles", () => {
  it("changes only the digests, keeping CRLF, tabs, non-UTF-8 bytes, the missing final newline and the file mode", async () => {
    const text = `# caf\xe9\r\n\timage: "cgr.dev/x/y:latest@${digest("a")}"\r\nother: y:1@${digest("a")}`;
    const file = path.join(root, "deploy.yaml");
    await writeFile(file, Buffer.from(text, "latin1"));
    await chmod(file, 0o640);

    const results = await rewrite("deploy.yaml", text);

    expect(results).toEqual([{ path: "deploy.yaml", ok: true }]);
    const written = await readFile(file);
    expect(written.equals(Buffer.from(text.replaceAll(digest("a"), digest("b")), "latin1"))).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(root)).toEqual(["deploy.yaml"]);
  });

  it("leaves a file that changed since the scan untouched and says so", async () => {
    const text = `image: x:1@${digest("a")}\n`;
    const changed = `image: x:1@${digest("c")}\n`;
    await writeFile(path.join(root, "a.yaml"), changed);

    const [result] = await rewrite("a.yaml", text);

    expect(result).toEqual({ path: "a.yaml", ok: false, error: "the file changed since it was scanned; left as it is" });
    expect(await readFile(path.join(root, "a.yaml"), "utf8")).toBe(changed);
  });

  it("leaves a file alone when another image took the same place, or a line was added, after the scan", async () => {
    const text = `image: acme/app:latest@${digest("a")}\n`;
    await writeFile(path.join(root, "same-length.yaml"), text);
    await writeFile(path.join(root, "appended.yaml"), text);
    const { scan, plan } = await scanAndPlan();
    expect([...plan.edits.keys()]).toEqual(["appended.yaml", "same-length.yaml"]);

    // The digest stays at its offset in both: only the whole file tells the change.
    const swapped = text.replace("acme/app", "acme/zzz");
    await writeFile(path.join(root, "same-length.yaml"), swapped);
    await appendFile(path.join(root, "appended.yaml"), "# a line added meanwhile\n");
    const results = await rewriteFiles(root, plan, scan.fingerprints);

    expect(results).toEqual([
      { path: "appended.yaml", ok: false, error: "the file changed since it was scanned; left as it is" },
      { path: "same-length.yaml", ok: false, error: "the file changed since it was scanned; left as it is" },
    ]);
    expect(await readFile(path.join(root, "same-length.yaml"), "utf8")).toBe(swapped);
    expect(await readFile(path.join(root, "appended.yaml"), "utf8")).toBe(`${text}# a line added meanwhile\n`);
  });

  it("writes nothing for a file the scan did not fingerprint", async () => {
    const text = `image: x:1@${digest("a")}\n`;
    await writeFile(path.join(root, "a.yaml"), text);
    const { plan } = planFor("a.yaml", text);
    expect(await rewriteFiles(root, plan, new Map())).toEqual([{ path: "a.yaml", ok: false, error: "not scanned in this run" }]);
    expect(await readFile(path.join(root, "a.yaml"), "utf8")).toBe(text);
  });

  it("never writes through a symlink or outside the root", async () => {
    const outside = await mkdtemp(path.join(tmpdir(), "digesta-outside-"));
    temporaries.push(outside);
    const text = `image: x:1@${digest("a")}\n`;
    await writeFile(path.join(outside, "target.yaml"), text);
    await symlink(path.join(outside, "target.yaml"), path.join(root, "link.yaml"));

    const results = [...(await rewrite("link.yaml", text)), ...(await rewrite("../escape.yaml", text)), ...(await rewrite("a/../../escape.yaml", text))];

    expect(results.map((r) => r.ok)).toEqual([false, false, false]);
    expect(results[0]!.error).toBe("a symbolic link in its path (not followed)");
    expect(await readFile(path.join(outside, "target.yaml"), "utf8")).toBe(text);
  });

  it("refuses a folder swapped for a link to an outside folder after the scan, even to an identical file", async () => {
    const text = `image: acme/app:latest@${digest("a")}\n`;
    await mkdir(path.join(root, "sub", "deeper"), { recursive: true });
    await writeFile(path.join(root, "sub", "x.yaml"), text);
    await writeFile(path.join(root, "sub", "deeper", "y.yaml"), text);
    const { scan, plan } = await scanAndPlan();
    expect([...plan.edits.keys()]).toEqual(["sub/deeper/y.yaml", "sub/x.yaml"]);

    // The outside folder holds the very same bytes, so only the link itself can give the swap away.
    const outside = await mkdtemp(path.join(tmpdir(), "digesta-outside-"));
    temporaries.push(outside);
    await mkdir(path.join(outside, "deeper"));
    await writeFile(path.join(outside, "x.yaml"), text);
    await writeFile(path.join(outside, "deeper", "y.yaml"), text);
    await rename(path.join(root, "sub"), path.join(root, "sub.moved"));
    await symlink(outside, path.join(root, "sub"));

    const results = await rewriteFiles(root, plan, scan.fingerprints);

    expect(results).toEqual([
      { path: "sub/deeper/y.yaml", ok: false, error: "a symbolic link in its path (not followed)" },
      { path: "sub/x.yaml", ok: false, error: "a symbolic link in its path (not followed)" },
    ]);
    expect(await readFile(path.join(outside, "x.yaml"), "utf8")).toBe(text);
    expect(await readFile(path.join(outside, "deeper", "y.yaml"), "utf8")).toBe(text);
    expect(await readdir(outside)).toEqual(["deeper", "x.yaml"]);
  });

  it("rewrites files and folders whose names are not UTF-8", async () => {
    const text = `image: acme/app:latest@${digest("a")}\n`;
    const folder = "dir\udcfe";
    const file = `${folder}/caf\udce9.yaml`;
    await mkdir(joinPathBytes(root, folder));
    await writeFile(joinPathBytes(root, file), text);
    const { scan, plan } = await scanAndPlan();

    expect(await rewriteFiles(root, plan, scan.fingerprints)).toEqual([{ path: file, ok: true }]);
    expect(await readFile(joinPathBytes(root, file), "utf8")).toBe(text.replace(digest("a"), digest("b")));
  });

  it.runIf(process.getuid?.() === 0)("keeps the owner and group of someone else's file when run as root", async () => {
    const text = `image: x:1@${digest("a")}\n`;
    const file = path.join(root, "theirs.yaml");
    await writeFile(file, text);
    await chown(file, 65534, 65534);
    await chmod(file, 0o664);

    expect(await rewrite("theirs.yaml", text)).toEqual([{ path: "theirs.yaml", ok: true }]);
    const after = await stat(file);
    expect([after.uid, after.gid, after.mode & 0o7777]).toEqual([65534, 65534, 0o664]);
    expect(await readFile(file, "utf8")).toBe(text.replace(digest("a"), digest("b")));
  });
});
