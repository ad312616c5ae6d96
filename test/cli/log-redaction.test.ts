import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pushBuild, type PushedBuild } from "../support/images.js";
import { runProcess } from "../support/process.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

// The command line's logger loads pino with its first line (src/logging/deferred-logger.ts): at the most verbose
// level, as a whole process with real credentials against a token-auth registry, no line may carry the password, the
// Basic credentials made of it, or a bearer token the token server issued.

const ROOT = join(import.meta.dirname, "..", "..");
let reg: TestRegistry;
let home: string;
let pushed: PushedBuild;

beforeAll(async () => {
  reg = await startRegistry({ auth: "token" });
  home = await mkdtemp(join(tmpdir(), "digesta-cli-redaction-"));
  pushed = await pushBuild(reg, "team/secret-app", "1.0");
});

afterAll(async () => {
  await reg?.stop();
  await rm(home, { recursive: true, force: true });
});

describe("the command line's log lines at trace", () => {
  it("say what the run did and carry no credential", async () => {
    const env = { PATH: process.env["PATH"], HOME: home, DOCKER_CONFIG: await reg.dockerConfigDir(), LOG_LEVEL: "trace" as const, DIGESTA_RETRIES: "0" };
    const { code, stdout, stderr } = await runProcess(process.execPath, ["--import", "tsx", "src/cli/bin.ts", "resolve", `${reg.host}/team/secret-app:1.0`], { cwd: ROOT, env, killAfterMs: 60_000 });
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).toBe(pushed.digest);
    // The lines were written (a logger that wrote nothing would pass the rest).
    expect(stderr).toMatch(/"msg":"pinged registry"/);
    expect(stderr.split("\n").filter(Boolean).length).toBeGreaterThan(1);
    expect(stderr).not.toContain(reg.password!);
    expect(stderr).not.toContain(Buffer.from(`${reg.username}:${reg.password}`).toString("base64"));
    expect(stderr).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});
