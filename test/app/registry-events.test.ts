// A real docker-registry notifies the app of pushes (notifications.endpoints in its configuration): the
// repositories that pin the pushed tag get their pull request within seconds; the others are not touched.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { pushedTags, publishedPackageTag } from "../../src/app/registry-events.js";
import { installationCreated } from "../fixtures/webhooks/payloads.js";
import { pushBuild, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { INSTALLATION, OWNER, startApp, type Harness } from "./harness.js";

const SECRET = "registry-events-secret-for-tests";

describe("registry push events", () => {
  let app: Harness;
  let reg: TestRegistry;
  let url: string;
  let web: PushedBuild;
  let worker: PushedBuild;

  beforeAll(async () => {
    // The app first (the registry's configuration names its URL); registries on loopback allowed by address.
    app = await startApp({ host: "127.0.0.1:9" } as TestRegistry, { allowHosts: ["127.0.0.1"], registryEventsSecret: SECRET });
    url = await app.serve();
    reg = await startRegistry({ notify: { url: (host) => `${url}/digesta/registry-events?registry=${host}`, authorization: `Bearer ${SECRET}` } });
    web = await pushBuild(reg, "team/web", "1", { generation: 1 });
    worker = await pushBuild(reg, "team/worker", "stable", { generation: 1 });
  });
  afterAll(async () => {
    await reg?.stop();
    await app?.close();
  });

  const pin = (repository: string, tag: string, digest: string) => `${reg.host}/${repository}:${tag}@${digest}`;
  const runs = (name: string) => app.logs.filter((l) => l["msg"] === "refresh started" && l["repository"] === `${OWNER}/${name}`);

  it("refreshes exactly the repositories that pin a pushed tag, within seconds, and updates their pull request on the next push", async () => {
    const repositories = [
      { owner: OWNER, name: "front" },
      { owner: OWNER, name: "shop" },
      { owner: OWNER, name: "jobs" },
    ];
    app.fake.createRepository(OWNER, "front", { "Dockerfile": `FROM ${pin("team/web", "1", web.digest)}\n` }, { installationId: INSTALLATION });
    app.fake.createRepository(OWNER, "shop", { "k8s.yaml": `image: ${pin("team/web", "1", web.digest)}\n` }, { installationId: INSTALLATION });
    app.fake.createRepository(OWNER, "jobs", { "Dockerfile": `FROM ${pin("team/worker", "stable", worker.digest)}\n` }, { installationId: INSTALLATION });
    // The first runs find every pin current, and learn which tags each repository follows.
    await app.receive(installationCreated(INSTALLATION, OWNER, repositories));
    for (const { name } of repositories) expect(app.fake.pulls(OWNER, name)).toEqual([]);

    const v2 = await pushBuild(reg, "team/web", "1", { generation: 2 });
    await vi.waitFor(
      () => {
        for (const name of ["front", "shop"]) expect(app.fake.openPulls(OWNER, name)).toHaveLength(1);
      },
      { timeout: 15_000, interval: 50 },
    );
    await app.digesta.idle();
    expect(app.fake.files(OWNER, "front", app.fake.openPulls(OWNER, "front")[0]!.head)["Dockerfile"]).toContain(v2.digest);
    expect(runs("front").at(-1)).toMatchObject({ reason: "registry push" });
    expect(runs("jobs")).toHaveLength(1);

    const v3 = await pushBuild(reg, "team/web", "1", { generation: 3 });
    await vi.waitFor(
      () => {
        for (const name of ["front", "shop"]) {
          const [pull] = app.fake.openPulls(OWNER, name);
          expect(Object.values(app.fake.files(OWNER, name, pull!.head)).join("")).toContain(v3.digest);
        }
      },
      { timeout: 15_000, interval: 50 },
    );
    await app.digesta.idle();
    for (const name of ["front", "shop"]) expect(app.fake.pulls(OWNER, name)).toHaveLength(1);
    expect(runs("jobs")).toHaveLength(1);
    expect(app.fake.pulls(OWNER, "jobs")).toEqual([]);
  });

  it("counts the runs by trigger and outcome, and the queue, at GET /metrics", async () => {
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/digesta_runs_total\{trigger="installation",outcome="done"\} 3/);
    expect(text).toMatch(/digesta_runs_total\{trigger="registry",outcome="done"\} [4-9]/);
    expect(text).toMatch(/digesta_run_duration_seconds_count\{trigger="registry"\}/);
    expect(text).toMatch(/digesta_queue_jobs\{state="waiting"\} 0/);
    expect(text).toMatch(/digesta_github_requests_total\{method="GET",status="2xx"\} \d+/);
    expect((await fetch(`${url}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("refuses a wrong or missing secret, other methods, a missing registry and a malformed envelope", async () => {
    const endpoint = `${url}/digesta/registry-events?registry=127.0.0.1:5000`;
    const post = (body: string, headers: Record<string, string> = { authorization: `Bearer ${SECRET}` }, to = endpoint) =>
      fetch(to, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
    expect((await post("{}", {})).status).toBe(401);
    expect((await post("{}", { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await fetch(endpoint, { headers: { authorization: `Bearer ${SECRET}` } })).status).toBe(405);
    expect((await post('{"events":[]}', undefined, `${url}/digesta/registry-events`)).status).toBe(400);
    expect((await post('{"events":[]}', undefined, `${url}/digesta/registry-events?registry=evil/host`)).status).toBe(400);
    expect((await post("not json")).status).toBe(400);
    expect((await post('{"nothing":1}')).status).toBe(400);
    expect((await post("x".repeat(2 * 1024 * 1024))).status).toBe(413);
    const ok = await post(JSON.stringify({ events: [{ action: "push", target: { repository: "nobody/pins-this", tag: "1", mediaType: "application/vnd.oci.image.manifest.v1+json" } }] }));
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ tags: 1, queued: 0 });
  });

  it("is off (503) without a secret", async () => {
    const off = await startApp({ host: "127.0.0.1:9" } as TestRegistry, { fake: app.fake });
    try {
      const offUrl = await off.serve();
      const response = await fetch(`${offUrl}/digesta/registry-events?registry=127.0.0.1:5000`, { method: "POST", body: "{}", headers: { authorization: "Bearer anything" } });
      expect(response.status).toBe(503);
    } finally {
      await off.close();
    }
  });
});

describe("pushedTags", () => {
  it("takes tag pushes of manifests and indexes only, and leaves malformed events out", () => {
    const envelope = {
      events: [
        { action: "push", target: { repository: "team/web", tag: "1", mediaType: "application/vnd.oci.image.index.v1+json", digest: "sha256:00" } },
        { action: "push", target: { repository: "team/web", tag: "1", mediaType: "application/vnd.docker.distribution.manifest.v2+json" } },
        { action: "pull", target: { repository: "team/api", tag: "2" } },
        { action: "push", target: { repository: "team/blob", mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: "sha256:11" } },
        { action: "push", target: { repository: "team/by-digest", mediaType: "application/vnd.oci.image.manifest.v1+json" } },
        { action: "push", target: { repository: "Team/../../etc", tag: "1" } },
        { action: "push", target: { repository: "team/odd", tag: "../x" } },
        { action: "push", target: { repository: "team/layer-tag", tag: "1", mediaType: "application/vnd.oci.image.layer.v1.tar" } },
        null,
        "push",
      ],
    };
    expect(pushedTags(envelope, "Registry.Example:5000")).toEqual(["registry.example:5000/team/web:1"]);
    expect(() => pushedTags({ event: [] }, "r")).toThrow(/events/);
    expect(() => pushedTags(null, "r")).toThrow(/events/);
  });

  it("reads the tag a ghcr.io container push published from GitHub's registry_package event", () => {
    const payload = {
      action: "published",
      registry_package: {
        name: "Web",
        namespace: "octo-org",
        package_type: "CONTAINER",
        package_version: { container_metadata: { tag: { name: "1.2", digest: "sha256:00" } } },
      },
    };
    expect(publishedPackageTag(payload)).toBe("ghcr.io/octo-org/web:1.2");
    expect(publishedPackageTag({ registry_package: { ...payload.registry_package, package_type: "npm" } })).toBeUndefined();
    const untagged = { ...payload.registry_package, package_version: { container_metadata: { tag: { name: "" } } } };
    expect(publishedPackageTag({ registry_package: untagged })).toBeUndefined();
  });
});
