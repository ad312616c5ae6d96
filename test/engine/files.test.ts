import { mkdtemp, readFile, rm, stat, symlink, writeFile, chmod, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rewriteFiles } from "../../src/engine/files.js";
import type { UpdatePlan } from "../../src/plan/types.js";
import { digest } from "../factories/pins.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "digesta-files-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function planFor(file: string, text: string, from = digest("a"), to = digest("b")): UpdatePlan {
  const offsets: number[] = [];
  for (let at = text.indexOf(from); at >= 0; at = text.indexOf(from, at + 1)) offsets.push(at);
  return {
    updates: [],
    upToDate: [],
    failed: [],
    skipped: [],
    edits: new Map([[file, offsets.map((digestOffset) => ({ digestOffset, from, to }))]]),
  };
}

describe("rewriteFiles", () => {
  it("changes only the digests, keeping CRLF, tabs, non-UTF-8 bytes, the missing final newline and the file mode", async () => {
    const text = `# caf\xe9\r\n\timage: "cgr.dev/x/y:latest@${digest("a")}"\r\nother: y:1@${digest("a")}`;
    const file = path.join(root, "deploy.yaml");
    await writeFile(file, Buffer.from(text, "latin1"));
    await chmod(file, 0o640);

    const results = await rewriteFiles(root, planFor("deploy.yaml", text));

    expect(results).toEqual([{ path: "deploy.yaml", ok: true }]);
    const written = await readFile(file);
    expect(written.equals(Buffer.from(text.replaceAll(digest("a"), digest("b")), "latin1"))).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(root)).toEqual(["deploy.yaml"]);
  });

  it("leaves a file that changed since the scan untouched and says so", async () => {
    const text = `image: x:1@${digest("a")}\n`;
    const plan = planFor("a.yaml", text);
    const changed = `image: x:1@${digest("c")}\n`;
    await writeFile(path.join(root, "a.yaml"), changed);

    const [result] = await rewriteFiles(root, plan);

    expect(result!.ok).toBe(false);
    expect(result!.error).toMatch(/changed/i);
    expect(await readFile(path.join(root, "a.yaml"), "utf8")).toBe(changed);
  });

  it("never writes through a symlink or outside the root", async () => {
    const outside = await mkdtemp(path.join(tmpdir(), "digesta-outside-"));
    const text = `image: x:1@${digest("a")}\n`;
    await writeFile(path.join(outside, "target.yaml"), text);
    await symlink(path.join(outside, "target.yaml"), path.join(root, "link.yaml"));

    const results = [
      ...(await rewriteFiles(root, planFor("link.yaml", text))),
      ...(await rewriteFiles(root, planFor("../escape.yaml", text))),
    ];

    expect(results.map((r) => r.ok)).toEqual([false, false]);
    expect(await readFile(path.join(outside, "target.yaml"), "utf8")).toBe(text);
    await rm(outside, { recursive: true, force: true });
  });
});
