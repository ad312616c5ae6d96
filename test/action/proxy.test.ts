// The Action behind a corporate proxy, as a self-hosted runner has it: HTTPS_PROXY in the environment, a registry that
// serves TLS with a certificate of the company's own CA (trusted through NODE_EXTRA_CA_CERTS, as for any Node program)
// and wants credentials, a real tinyproxy between. The proxy may see where the tunnels go, nothing of what they carry.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ALL_BRANCH } from "../../src/policy/grouping.js";
import { GitHubFake } from "../support/github-fake.js";
import { movingTag, type PushedBuild } from "../support/images.js";
import { startProxyServer, type ProxyServer } from "../support/proxy-server.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { ACTION_TOKEN, runActionStep } from "./harness.js";

describe("the GitHub Action behind a proxy", () => {
  let reg: TestRegistry;
  let proxy: ProxyServer;
  let build: { before: PushedBuild; after: PushedBuild };
  let dockerConfig: string;
  let fake: GitHubFake;
  let api: { url: string; close(): Promise<void> };
  let work: string;

  beforeAll(async () => {
    reg = await startRegistry({ tls: true, auth: "htpasswd" });
    build = await movingTag(reg, "team/tool", "2");
    dockerConfig = await reg.dockerConfigDir();
    // Idle tunnels stay open far longer than a run may take: only the Action itself can end its process.
    proxy = await startProxyServer({ connectPorts: [Number(new URL(reg.url).port)], idleTimeoutSeconds: 3600 });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([reg?.stop(), proxy?.stop()]);
  });
  beforeEach(async () => {
    fake = new GitHubFake();
    fake.addToken(ACTION_TOKEN);
    api = await fake.listen();
    work = await mkdtemp(join(tmpdir(), "digesta-action-proxy-"));
  });
  afterEach(async () => {
    await api.close();
    await rm(work, { recursive: true, force: true });
  });

  const pinned = (digest: string) => `image: ${reg.host}/team/tool:2@${digest}\n`;
  const environment = (noProxy: string): NodeJS.ProcessEnv => ({
    HTTPS_PROXY: proxy.url,
    HTTP_PROXY: proxy.url,
    // The GitHub fake is on loopback over plain HTTP; this proxy only tunnels to the registry's port.
    NO_PROXY: [new URL(api.url).host, noProxy].filter(Boolean).join(","),
    NODE_EXTRA_CA_CERTS: reg.caFile,
    DOCKER_CONFIG: dockerConfig,
    DIGESTA_ALLOW_PRIVATE_REGISTRIES: reg.host,
  });

  it("reads a TLS registry through a CONNECT tunnel: its credentials reach the registry alone, the proxy sees host and port", async () => {
    expect(reg.url).toMatch(/^https:/);
    fake.createRepository("someone", "tools", { "deploy.yaml": pinned(build.before.digest) }, { installationId: 1 });
    const before = await proxy.log();

    const run = await runActionStep({ api: api.url, work, env: environment("") });

    expect(run.signal, "the Action's process did not end by itself").toBeNull();
    expect(run.code, run.stdout).toBe(0);
    expect(run.outputs).toMatchObject({ updated: "1", failed: "0" });
    expect(fake.files("someone", "tools", ALL_BRANCH)["deploy.yaml"]).toBe(pinned(build.after.digest));
    // What the proxy saw: tunnels to the registry's host and port, and no request of its own to read.
    const seen = (await proxy.log()).slice(before.length);
    const requests = [...seen.matchAll(/Request \(file descriptor \d+\): (.*)$/gm)].map((m) => m[1]!);
    expect(requests.length).toBeGreaterThan(0);
    expect(new Set(requests)).toEqual(new Set([`CONNECT ${reg.host} HTTP/1.1`]));
    const basic = Buffer.from(`${reg.username}:${reg.password}`).toString("base64");
    for (const secret of [reg.password!, basic, "/v2/", "team/tool"]) expect(seen).not.toContain(secret);
    // Nor did GitHub get the registry's credentials.
    expect(JSON.stringify(fake.requests)).not.toContain(basic);
    expect(JSON.stringify(fake.requests)).not.toContain(reg.password!);
  });

  it("goes direct to the registry NO_PROXY names", async () => {
    fake.createRepository("someone", "tools", { "deploy.yaml": pinned(build.before.digest) }, { installationId: 1 });
    const before = (await proxy.connects()).length;

    const run = await runActionStep({ api: api.url, work, env: environment(reg.host), inputs: { "dry-run": "true" } });

    expect(run.signal, "the Action's process did not end by itself").toBeNull();
    expect(run.code, run.stdout).toBe(0);
    expect(run.outputs).toMatchObject({ updated: "1", failed: "0" });
    expect((await proxy.connects()).length).toBe(before);
  });

  it("does not fall back to a direct connection when the proxy refuses the tunnel", async () => {
    const closed = await startProxyServer({ connectPorts: [9] });
    try {
      fake.createRepository("someone", "tools", { "deploy.yaml": pinned(build.before.digest) }, { installationId: 1 });
      const run = await runActionStep({ api: api.url, work, env: { ...environment(""), HTTPS_PROXY: closed.url, HTTP_PROXY: closed.url } });
      expect(run.signal).toBeNull();
      expect(run.code).toBe(1);
      expect(run.outputs).toMatchObject({ updated: "0", failed: "1" });
      // The step says why, where the workflow's run shows it: an annotation and the job summary.
      const refusal = `the proxy ${closed.url} refused a tunnel to ${reg.host}: 403`;
      expect(run.stdout).toMatch(new RegExp(`^::warning::${reg.host}/team/tool:2 could not be checked: .*${refusal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "m"));
      expect(run.summary).toContain(`${reg.host}/team/tool:2`);
      expect(run.summary).toContain("refused a tunnel");
      expect(await closed.connects()).toContain(reg.host);
      expect(fake.pulls("someone", "tools")).toEqual([]);
    } finally {
      await closed.stop();
    }
  });
});
