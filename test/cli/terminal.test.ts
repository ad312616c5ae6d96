// Living with digesta in a terminal: readable log lines, a progress line that never goes quiet, and a quiet end
// when the reader of its output goes away.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createProgress } from "../../src/cli/progress.js";
import { main } from "../../src/cli/main.js";
import { REDACTED_PATHS } from "../../src/logging/logger.js";
import { formatLogLine } from "../../src/logging/text-stream.js";
import { movingTag, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const D = `sha256:${"0123456789abcdef".repeat(4)}`;

/** A stream that says it is a terminal, keeping what is written to it. */
function terminal(): PassThrough & { isTTY: boolean; columns: number; text(): string } {
  const stream = new PassThrough() as PassThrough & { isTTY: boolean; columns: number; text(): string };
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  stream.isTTY = true;
  stream.columns = 100;
  stream.text = () => Buffer.concat(chunks).toString("utf8");
  return stream;
}

describe("log lines for a person", () => {
  const lineOf = (log: (logger: pino.Logger) => void): string => {
    let written = "";
    const logger = pino({ level: "debug", redact: { paths: REDACTED_PATHS, censor: "[redacted]" } }, { write: (line: string) => (written += line) });
    log(logger);
    return formatLogLine(written.trim());
  };

  it("are one line each: time, level, message, then fields", () => {
    const line = lineOf((logger) => logger.warn({ what: "cgr.dev/chainguard/static:latest", status: 503, attempt: 2 }, "registry request failed; retrying"));
    expect(line).toMatch(/^\d\d:\d\d:\d\d WARN  registry request failed; retrying what=cgr\.dev\/chainguard\/static:latest status=503 attempt=2$/);
  });

  it("keep secrets redacted and hostile text harmless", () => {
    const line = lineOf((logger) =>
      logger.error({ headers: { authorization: "Bearer s3cret" }, token: "ghs_abc", detail: "evil\u001b]0;pwned\u0007 text\nsecond line", err: new Error("boom\u001b[2J") }, "bad\u001b[31m answer"),
    );
    expect(line).not.toContain("s3cret");
    expect(line).not.toContain("ghs_abc");
    expect(line).toContain("[redacted]");
    expect(line).not.toMatch(/[\u0000-\u001f]/);
    expect(line.split("\n")).toHaveLength(1);
    expect(line).toContain("err=\"Error: boom\uFFFD[2J\"");
  });

  it("pass through what is not JSON", () => {
    expect(formatLogLine("not json\n")).toBe("not json");
  });
});

describe("the progress line", () => {
  afterEach(() => vi.useRealTimers());

  it("says nothing when stderr is not a terminal", () => {
    const stream = new PassThrough();
    let written = "";
    stream.on("data", (chunk: Buffer) => (written += chunk.toString()));
    const progress = createProgress(stream);
    progress.phase("resolving tags", 3);
    progress.update(3);
    progress.end();
    expect(written).toBe("");
  });

  it("is redrawn while a slow step runs, so a second never passes in silence", () => {
    vi.useFakeTimers();
    const stream = terminal();
    const progress = createProgress(stream, () => Date.now());
    progress.phase("resolving tags", 10);
    progress.update(3);
    // One step takes 2.6 s: the line keeps ticking, with the elapsed time.
    vi.advanceTimersByTime(1100);
    expect(stream.text()).toContain("resolving tags 3/10 (1s)");
    vi.advanceTimersByTime(1500);
    expect(stream.text()).toContain("resolving tags 3/10 (2s)");
    progress.update(10);
    expect(stream.text()).toContain("resolving tags 10/10");
    progress.end();
    expect(stream.text().endsWith("\r\u001b[K")).toBe(true);
    const drawn = stream.text().length;
    vi.advanceTimersByTime(5000);
    expect(stream.text().length).toBe(drawn);
  });
});

describe("digesta in a terminal", () => {
  let reg: TestRegistry;
  let app: { before: PushedBuild; after: PushedBuild };
  let dir: string;
  const previousDockerConfig = process.env["DOCKER_CONFIG"];
  beforeAll(async () => {
    process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-cli-test";
    reg = await startRegistry();
    app = await movingTag(reg, "term/app", "1");
    dir = mkdtempSync(path.join(tmpdir(), "digesta-terminal-"));
    writeFileSync(path.join(dir, "a.yaml"), `a: ${reg.host}/term/app:1@${app.before.digest}\n`);
  });
  afterAll(async () => {
    if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
    else process.env["DOCKER_CONFIG"] = previousDockerConfig;
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows each phase on stderr (files read, tags resolved n/N, images diffed n/N) and clears it before results", async () => {
    const stdout = new PassThrough();
    let out = "";
    stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const stderr = terminal();
    const code = await main(["update", dir, "--dry-run"], { stdout, stderr });
    expect(code).toBe(0);
    const shown = stderr.text();
    expect(shown).toContain("reading files");
    expect(shown).toContain("resolving tags 1/1");
    expect(shown).toContain("diffing images 1/1");
    expect(shown.endsWith("\r\u001b[K")).toBe(true);
    expect(out).toContain("would update");
    expect(out).not.toContain("\r");
  });

  it("refuses a log format it does not know", async () => {
    const stderr = terminal();
    expect(await main(["--log-format", "xml", "scan", dir], { stdout: new PassThrough(), stderr })).toBe(2);
    expect(stderr.text()).toMatch(/^digesta: log format "xml" is not json or text\n$/);
  });
});

describe("digesta scan | head -1", () => {
  it("ends quietly when the reader goes away (EPIPE), with no stack trace", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "digesta-epipe-"));
    try {
      // Far more output than a pipe holds: the writes after head exits fail with EPIPE.
      for (let f = 0; f < 5; f++) {
        writeFileSync(path.join(dir, `f${f}.yaml`), Array.from({ length: 4000 }, (_, i) => `image${i}: nginx:${i}@${D}\n`).join(""));
      }
      const script = `node --import tsx src/cli/bin.ts scan ${JSON.stringify(dir)} | head -1; echo "exit=\${PIPESTATUS[0]}" >&2`;
      const run = spawnSync("bash", ["-c", script], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
      expect(run.stdout).toMatch(/^f0\.yaml:1:\d+\tnginx:0@sha256:/);
      expect(run.stdout.trim().split("\n")).toHaveLength(1);
      expect(run.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
      expect(run.stderr).toMatch(/exit=0\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
