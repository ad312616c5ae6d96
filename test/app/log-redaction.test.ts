import { createHmac, generateKeyPairSync } from "node:crypto";
import { createServer } from "node:net";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { startServer } from "../../src/app/server.js";
import { createDeferredLogger } from "../../src/logging/deferred-logger.js";

// No secret in any log line at any level: not the sweep secret in a request's headers (Probot's request logger prints
// them), not a cookie or a webhook signature, not a credential quoted in a message or nested deep in an object.

/** A writable stream that keeps what was written, for loggers to write to. */
function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { stream, text: () => chunks.join("") };
}

const SWEEP_SECRET = "sweep-secret-4c1b9e77d2";
const WRONG_SECRET = "almost-the-sweep-secret-4c1b9e77d3";
const COOKIE = "session=cookie-value-8f3a1d";
const WEBHOOK_SECRET = "webhook-secret-7a0c55e1";
const PRIVATE_KEY = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;

describe("the CLI's logger", () => {
  it("redacts secret headers at any depth, URL userinfo and Authorization values in messages, at debug", () => {
    const out = capture();
    const logger = createDeferredLogger("debug", "json", out.stream);
    logger.debug(
      { request: { options: { headers: { authorization: "Basic YW5uOnMzY3JldA==", cookie: COOKIE, "X-Digesta-Secret": SWEEP_SECRET } } } },
      "fetching https://ann:s3cret-pw@registry.example.test/v2/ with Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl",
    );
    logger.trace("not at this level");
    const text = out.text();
    expect(text).toContain("fetching https://[redacted]@registry.example.test/v2/");
    for (const secret of ["YW5uOnMzY3JldA==", COOKIE, SWEEP_SECRET, "s3cret-pw", "eyJhbGciOi"]) expect(text).not.toContain(secret);
  });
});

describe("the app server's logs", () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it("show no secret at LOG_LEVEL=debug, Probot's request log included", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const out = capture();
    const { server, digesta } = await startServer(
      {
        HOST: "127.0.0.1",
        PORT: String(port),
        LOG_LEVEL: "debug",
        LOG_FORMAT: "json",
        APP_ID: "1",
        PRIVATE_KEY,
        WEBHOOK_SECRET,
        DIGESTA_SWEEP_SECRET: SWEEP_SECRET,
        DIGESTA_SCHEDULER: "off",
        // GitHub's API on a loopback port nobody listens on: the sweep fails, and its failure is logged too.
        GHE_HOST: "127.0.0.1:9",
        GHE_PROTOCOL: "http",
      },
      { logDestination: out.stream },
    );
    stop = async () => {
      digesta.stop();
      await server.stop();
    };
    const base = `http://127.0.0.1:${port}`;
    const sweeps: Record<string, string>[] = [
      { authorization: `Bearer ${SWEEP_SECRET}`, cookie: COOKIE },
      { "x-digesta-secret": SWEEP_SECRET },
      { authorization: `Bearer ${WRONG_SECRET}` },
    ];
    const statuses: number[] = [];
    for (const headers of sweeps) {
      const response = await fetch(`${base}/digesta/sweep`, { method: "POST", headers });
      statuses.push(response.status);
      await response.arrayBuffer();
    }
    expect(statuses).toEqual([202, 202, 401]);
    const body = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1, hook: { type: "App", id: 1, events: ["push"] } });
    const signature = createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex");
    const ping = await fetch(`${base}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "ping", "x-github-delivery": "d-1", "x-hub-signature-256": `sha256=${signature}` },
      body,
    });
    expect(ping.status).toBe(200);
    // The sweeps reach for the (unreachable) API with the app's token; Octokit's request log is part of what is checked.
    for (let waited = 0; !out.text().includes("/app/installations") && waited < 30_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const text = out.text();
    // The request logger did log these requests, with their headers.
    expect(text).toContain("/digesta/sweep");
    expect(text).toContain('"level":20');
    expect(text).toContain("/app/installations");
    expect(text).toContain("[redacted]");
    const keyLines = PRIVATE_KEY.split("\n").filter((line) => line.length > 40);
    for (const secret of [SWEEP_SECRET, WRONG_SECRET, COOKIE, "cookie-value-8f3a1d", WEBHOOK_SECRET, signature, ...keyLines]) {
      expect(text, `a log line holds ${secret.slice(0, 12)}…`).not.toContain(secret);
    }
    expect(text).not.toMatch(/bearer [A-Za-z0-9._-]{20,}/i);
  });
});
