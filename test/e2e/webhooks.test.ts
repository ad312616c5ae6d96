// The app's real server (src/app/server.ts, as `npm start` builds it) called the way GitHub calls it: deliveries over
// HTTP to /api/github/webhooks with X-Hub-Signature-256, GitHub's API the stateful fake served as GitHub Enterprise
// Server, a real registry. Unsigned, wrongly signed and SHA-1-only deliveries are refused before anything runs;
// malformed signed payloads never take the server down; a comment command from someone without write access changes
// nothing; after all of it a proper push still opens its pull request; and a sweep through a secondary rate limit
// and a repository deleted mid-sweep serves every other repository.
import { createHmac, generateKeyPairSync } from "node:crypto";
import type { Server } from "probot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../src/app/server.js";
import { issueCommentCreated, push } from "../fixtures/webhooks/payloads.js";
import { freePort } from "../support/free-port.js";
import { GitHubFake } from "../support/github-fake.js";
import { movingTag, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

const SECRET = "webhook-secret-e2e-51c0";
const SWEEP_SECRET = "sweep-secret-e2e-77aa";
const INSTALLATION = 7;
const OWNER = "acme";
const PRIVATE_KEY = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;

let reg: TestRegistry;
let app: { before: PushedBuild; after: PushedBuild };
let fake: GitHubFake;
let github: { url: string; close(): Promise<void> };
let server: Server;
let base: string;

const sign = (body: string, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

function deliver(event: string, body: string, headers: Record<string, string> = { "x-hub-signature-256": sign(body) }, id = `d-${Math.random()}`): Promise<Response> {
  return fetch(`${base}/api/github/webhooks`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-event": event, "x-github-delivery": id, ...headers },
    body,
  });
}

/** Waits until `done` holds, or fails saying what it waited for. */
async function until(what: string, done: () => boolean, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !done(); ) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  reg = await startRegistry();
  app = await movingTag(reg, "acme/app", "1");
  fake = new GitHubFake();
  fake.addInstallation(INSTALLATION, OWNER);
  for (const name of ["service", "locked", "gone", "limited", "plain"]) {
    fake.createRepository(OWNER, name, { "deploy.yaml": `image: ${reg.host}/acme/app:1@${app.before.digest}\n` }, { installationId: INSTALLATION });
  }
  github = await fake.listen();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  ({ server } = await startServer({
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "fatal",
    APP_ID: "1",
    PRIVATE_KEY,
    WEBHOOK_SECRET: SECRET,
    GHE_HOST: new URL(github.url).host,
    GHE_PROTOCOL: "http",
    DIGESTA_SCHEDULER: "off",
    DIGESTA_ALLOW_PRIVATE_REGISTRIES: reg.host,
    DIGESTA_OSV_URL: "off",
    DIGESTA_GITHUB_WRITE_INTERVAL_MS: "0",
    DIGESTA_SWEEP_SECRET: SWEEP_SECRET,
  }));
});

afterAll(async () => {
  await server?.stop();
  await github?.close();
  await reg?.stop();
});

describe("the app server as GitHub calls it", () => {
  it("refuses deliveries that are unsigned, wrongly signed or signed with SHA-1 only, before any GitHub or registry call", async () => {
    const body = JSON.stringify(push(INSTALLATION, { owner: OWNER, name: "service" }, "main", "0".repeat(40), fake.branchHead(OWNER, "service", "main")!).payload);
    const calls = fake.requests.length;
    const refused = [
      await deliver("push", body, {}),
      await deliver("push", body, { "x-hub-signature-256": sign(body, "not-the-secret") }),
      await deliver("push", body, { "x-hub-signature-256": "sha256=" }),
      await deliver("push", body, { "x-hub-signature": `sha1=${createHmac("sha1", SECRET).update(body).digest("hex")}` }),
      // A valid signature of other bytes: the body was altered on the way.
      await deliver("push", body.replace("main", "mian"), { "x-hub-signature-256": sign(body) }),
    ];
    for (const response of refused) {
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      await response.arrayBuffer();
    }
    // Give a handler that wrongly started the time to reach GitHub; none may have.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(fake.requests.slice(calls)).toEqual([]);
    expect(fake.pulls(OWNER, "service")).toEqual([]);
  });

  it("survives malformed signed payloads and still answers", async () => {
    for (const [event, body] of [
      ["push", "{not json"],
      ["push", "[1,2,3]"],
      ["installation", "null"],
      ["push", JSON.stringify({ ref: "refs/heads/main" })],
      ["issue_comment", JSON.stringify({ action: "created", comment: { body: "/digesta refresh" } })],
      ["installation", JSON.stringify({ action: "created", installation: { id: "x" }, repositories: "none" })],
      ["pull_request", JSON.stringify({ action: "opened", installation: { id: INSTALLATION }, pull_request: { number: "1; rm -rf /" } })],
    ] as const) {
      const response = await deliver(event, body);
      await response.arrayBuffer();
      expect(response.status, `${event} ${body}`).not.toBe(0);
      expect((await fetch(`${base}/ping`)).status, `after ${event} ${body}`).toBe(200);
    }
  });

  it("does nothing for /digesta refresh from a user without write access, and opens the pull request for a push", async () => {
    fake.setCollaborator(OWNER, "locked", "mallory", "read");
    const issue = fake.openIssue(OWNER, "locked", { title: "question", author: "mallory" });
    const commentId = fake.addComment(OWNER, "locked", issue, "/digesta refresh", "mallory");
    const comment = issueCommentCreated(INSTALLATION, { owner: OWNER, name: "locked" }, { number: issue, isPullRequest: false, commentId, body: "/digesta refresh", login: "mallory" });
    const answered = await deliver(comment.name, JSON.stringify(comment.payload));
    expect(answered.status).toBe(200);
    await until("the refusal", () => fake.comments(OWNER, "locked", issue).some((c) => c.author !== "mallory" && c.body.includes("write, maintain or admin permission")));

    const pushed = push(INSTALLATION, { owner: OWNER, name: "service" }, "main", "0".repeat(40), fake.branchHead(OWNER, "service", "main")!);
    const response = await deliver(pushed.name, JSON.stringify(pushed.payload));
    expect(response.status).toBe(200);
    await until("the pull request for the push", () => fake.openPulls(OWNER, "service").length === 1);
    const pull = fake.openPulls(OWNER, "service")[0]!;
    expect(fake.files(OWNER, "service", pull.head)["deploy.yaml"]).toBe(`image: ${reg.host}/acme/app:1@${app.after.digest}\n`);
    // The reader's command was refused and moved nothing in their repository.
    expect(fake.pulls(OWNER, "locked")).toEqual([]);
    expect(fake.branches(OWNER, "locked")).toEqual(["main"]);
  });

  it("sweeps on through a secondary rate limit (403, Retry-After) and a repository deleted mid-sweep", async () => {
    fake.failNext("POST", /^\/repos\/acme\/limited\/git\/trees$/, 403, {
      headers: { "retry-after": "1", "x-ratelimit-remaining": "4000" },
      message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    });
    const held = fake.hold("GET", /^\/repos\/acme\/gone\/tarball\//);
    const sweep = await fetch(`${base}/digesta/sweep?force=true`, { method: "POST", headers: { authorization: `Bearer ${SWEEP_SECRET}` } });
    expect(sweep.status).toBe(202);
    await sweep.arrayBuffer();
    // The owner deletes the repository while digesta downloads it.
    const caught = await held;
    fake.deleteRepository(OWNER, "gone");
    caught.release();

    await until("pull requests in the other repositories", () => ["limited", "plain"].every((name) => fake.openPulls(OWNER, name).length === 1), 90_000);
    for (const name of ["limited", "plain"]) {
      const pull = fake.openPulls(OWNER, name)[0]!;
      expect(fake.files(OWNER, name, pull.head)["deploy.yaml"], name).toBe(`image: ${reg.host}/acme/app:1@${app.after.digest}\n`);
    }
    // The rate-limited write was made again after the wait, once.
    expect(fake.requests.filter((r) => r.method === "POST" && r.path === "/repos/acme/limited/git/trees")).toHaveLength(2);
    expect((await fetch(`${base}/ping`)).status).toBe(200);
  });
});
