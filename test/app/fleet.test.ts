// Fleet mode in one test process: a web app and two workers sharing the GitHub fake, a real Redis (queue, book,
// caches) and a real registry. Each app has its own Probot, queue client, registry client and session factory, as
// separate processes would; test/app/fleet-process.test.ts kills real processes.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessionFactory, type ObservedRequest } from "../../src/app/registry-setup.js";
import type { RegistrySession } from "../../src/app/session.js";
import { createRedisQueue } from "../../src/queue/redis.js";
import { RedisRepositoryBook } from "../../src/store/redis-book.js";
import { createRedisCache } from "../../src/store/redis-cache.js";
import type { GitHubFake } from "../support/github-fake.js";
import { pushBuild, type PushedBuild } from "../support/images.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { issueCommentCreated } from "../fixtures/webhooks/payloads.js";
import { INSTALLATION, OWNER, pushApkBuild, startApp, type Harness } from "./harness.js";

describe("fleet mode (Redis)", () => {
  let reg: TestRegistry;
  let redis: TestRedis;
  let connection: Redis;
  let apps: Harness[] = [];
  let requests: ObservedRequest[] = [];
  let web: { v1: PushedBuild; v2: PushedBuild };
  let worker: { v1: PushedBuild; v2: PushedBuild };

  beforeAll(async () => {
    [reg, redis] = await Promise.all([startRegistry(), startRedis()]);
    connection = new Redis(redis.url);
    web = {
      v1: await pushApkBuild(reg, "team/web", "1", 1, [{ name: "busybox", version: "1.36.1-r0" }]),
      v2: await pushApkBuild(reg, "team/web", "1", 2, [{ name: "busybox", version: "1.36.1-r5" }]),
    };
    worker = { v1: await pushBuild(reg, "team/worker", "stable", { generation: 1 }), v2: await pushBuild(reg, "team/worker", "stable", { generation: 2 }) };
  });
  afterAll(async () => {
    connection.disconnect();
    await Promise.all([reg.stop(), redis.stop()]);
  });
  afterEach(async () => {
    // Workers last: the web app owns the fake.
    for (const app of [...apps].reverse()) await app.close();
    apps = [];
    requests = [];
  });

  /** One process of a fleet: its own clients, Redis shared under `prefix`. */
  async function fleetApp(
    prefix: string,
    role: "web" | "worker",
    fake?: GitHubFake,
    wrap: (session: RegistrySession) => RegistrySession = (session) => session,
  ): Promise<Harness> {
    const sessions = createSessionFactory({
      allowPrivateRegistries: [reg.host],
      retries: 1,
      backoff: { baseMs: 1, maxMs: 5 },
      cache: createRedisCache(connection, { prefix }),
      observe: (request) => requests.push(request),
    });
    const app = await startApp(reg, {
      ...(fake ? { fake } : {}),
      queue: createRedisQueue({ url: redis.url, prefix, retry: { attempts: 3, backoffMs: 50 }, lockMs: 10_000 }),
      book: new RedisRepositoryBook(connection, { prefix, startedAt: new Date() }),
      work: role === "worker",
      concurrency: 3,
      createSession: (batch) => wrap(sessions(batch)),
    });
    apps.push(app);
    return app;
  }

  const pin = (repository: string, tag: string, digest: string) => `${reg.host}/${repository}:${tag}@${digest}`;

  it("sweeps 20 repositories with a web process and two workers: one pull request each, each tag resolved once for the fleet", async () => {
    const prefix = `fleet-${randomUUID()}`;
    const front = await fleetApp(prefix, "web");
    await fleetApp(prefix, "worker", front.fake);
    await fleetApp(prefix, "worker", front.fake);
    const names = Array.from({ length: 20 }, (_, i) => `service-${i}`);
    for (const name of names) {
      front.fake.createRepository(
        OWNER,
        name,
        {
          "Dockerfile": `FROM ${pin("team/web", "1", web.v1.digest)}\n`,
          "deploy/app.yaml": `image: ${pin("team/worker", "stable", worker.v1.digest)}\n`,
        },
        { installationId: INSTALLATION },
      );
    }

    await front.digesta.sweep({ force: true });
    await front.digesta.queue.idle();

    for (const name of names) {
      const pulls = front.fake.pulls(OWNER, name);
      expect(pulls, name).toHaveLength(1);
      const files = front.fake.files(OWNER, name, pulls[0]!.head);
      expect(files["Dockerfile"]).toContain(web.v2.digest);
      expect(files["deploy/app.yaml"]).toContain(worker.v2.digest);
      expect(front.fake.commitsAhead(OWNER, name, pulls[0]!.head)).toHaveLength(1);
    }
    // Both workers took part, and between them asked the registry for each tag once.
    const started = apps.slice(1).map((app) => app.logs.filter((l) => l["msg"] === "refresh started").length);
    expect(started.every((n) => n > 0)).toBe(true);
    expect(started.reduce((a, b) => a + b)).toBe(20);
    const tagReads = requests.filter((r) => /\/manifests\/[^/:]+$/.test(r.path) && !r.path.includes("sha256"));
    expect(tagReads.map((r) => r.path).sort()).toEqual(["/v2/team/web/manifests/1", "/v2/team/worker/manifests/stable"]);
  });

  it("queues a due repository once per due time, however many schedulers look", async () => {
    const prefix = `fleet-${randomUUID()}`;
    const front = await fleetApp(prefix, "web");
    front.fake.createRepository(OWNER, "scheduled", { "Dockerfile": `FROM ${pin("team/web", "1", web.v1.digest)}\n` }, { installationId: INSTALLATION });
    const a = new RedisRepositoryBook(connection, { prefix, startedAt: new Date("2026-03-01T00:00:00Z") });
    const b = new RedisRepositoryBook(connection, { prefix, startedAt: new Date("2026-03-01T00:00:00Z") });
    await a.replaceAll([{ installationId: INSTALLATION, owner: OWNER, repo: "scheduled" }], new Date("2026-03-01T00:00:00Z"));
    const at = new Date("2026-03-11T12:00:00Z");
    const [first, second] = await Promise.all([a.due(at), b.due(at)]);
    expect(first.length + second.length).toBe(1);
    expect(await a.due(new Date("2026-03-11T12:30:00Z"))).toEqual([]);
    // The next day is another due time.
    expect(await b.due(new Date("2026-03-12T23:59:00Z"))).toHaveLength(1);
  });

  it("answers /digesta refresh during a run with a run that starts after the comment, not the one that was going", async () => {
    const prefix = `fleet-${randomUUID()}`;
    const v1 = await pushBuild(reg, "team/api", "2", { generation: 1 });
    await pushBuild(reg, "team/api", "2", { generation: 2 });
    // The worker's first run is held once it has resolved the tag (in its build-time lookup, before it publishes).
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let runs = 0;
    const holdFirst = (session: RegistrySession): RegistrySession => ({
      ...session,
      builtAt: (platform) => {
        const lookup = session.builtAt(platform);
        const run = ++runs;
        return async (image, digest) => {
          if (run === 1) {
            held();
            await released;
          }
          return lookup(image, digest);
        };
      },
    });
    const front = await fleetApp(prefix, "web");
    await fleetApp(prefix, "worker", front.fake, holdFirst);
    front.fake.createRepository(OWNER, "during", { "Dockerfile": `FROM ${pin("team/api", "2", v1.digest)}\n` }, { installationId: INSTALLATION });
    front.fake.setCollaborator(OWNER, "during", "alice", "write");
    const issue = front.fake.openIssue(OWNER, "during", { title: "refresh please" });

    const first = front.digesta.refresh({ installationId: INSTALLATION, owner: OWNER, repo: "during", reason: "push" });
    await holding;
    // While that run (which saw the second build) goes, a third build is pushed and someone asks for a refresh.
    const api3 = await pushBuild(reg, "team/api", "2", { generation: 3 });
    const body = "/digesta refresh";
    const commentId = front.fake.addComment(OWNER, "during", issue, body, "alice");
    const answered = front.probot.receive(
      issueCommentCreated(INSTALLATION, { owner: OWNER, name: "during" }, { number: issue, isPullRequest: false, commentId, body, login: "alice" }) as never,
    );
    release();
    const outcome = await first;
    const pulls = front.fake.pulls(OWNER, "during");
    expect(pulls).toHaveLength(1);
    expect(outcome).toMatchObject({ status: "done", pullRequests: [{ kind: "created", number: pulls[0]!.number }] });
    await answered;

    // The reply is the run after the comment's: it moved the pull request on to the third build.
    const replies = front.fake.comments(OWNER, "during", issue).filter((c) => c.author === front.fake.botLogin);
    expect(replies.map((c) => c.body)).toEqual([expect.stringContaining(`- #${pulls[0]!.number}: updated`)]);
    expect(front.fake.files(OWNER, "during", pulls[0]!.head)["Dockerfile"]).toContain(api3.digest);
    expect(runs).toBe(2);
  });
});
