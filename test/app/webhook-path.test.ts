import { createHmac, generateKeyPairSync } from "node:crypto";
import { createServer } from "node:net";
import type { Server } from "probot";
import { afterEach, describe, expect, it } from "vitest";
import { startServer } from "../../src/app/server.js";

// The hosted server as `npm start` runs it: first in setup mode (no APP_ID: Probot's manifest flow), then, once
// registered, with the app's credentials. What the setup page tells GitHub must be where deliveries are accepted.

const SECRET = "webhook-secret-for-the-path-test";
const PRIVATE_KEY = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function baseEnv(port: number): NodeJS.ProcessEnv {
  return { HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "fatal", DIGESTA_SCHEDULER: "off" };
}

function signedPing(url: string, secret = SECRET, delivery = "d-1"): Promise<Response> {
  const body = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1, hook: { type: "App", id: 1, events: ["push"] } });
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "ping",
      "x-github-delivery": delivery,
      "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
    },
    body,
  });
}

describe("the webhook URL the setup page registers", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it("receives a signed ping (200) once the app is registered, behind a load balancer too", async () => {
    // Setup mode, with no smee.io channel (no network here) and no credentials yet.
    const setupPort = await freePort();
    const saved = { NO_SMEE_SETUP: process.env["NO_SMEE_SETUP"], WEBHOOK_PROXY_URL: process.env["WEBHOOK_PROXY_URL"] };
    process.env["NO_SMEE_SETUP"] = "true";
    delete process.env["WEBHOOK_PROXY_URL"];
    let manifest: { hook_attributes: { url: string }; redirect_url: string };
    try {
      ({ server } = await startServer(baseEnv(setupPort)));
      // As a load balancer terminating TLS for digesta.example.com forwards the page.
      const page = await fetch(`http://127.0.0.1:${setupPort}/probot`, {
        headers: { "x-forwarded-proto": "https", "x-forwarded-host": "digesta.example.com" },
      });
      expect(page.status).toBe(200);
      const value = /name="manifest" id="manifest" value='([^']*)'/.exec(await page.text());
      expect(value).not.toBeNull();
      manifest = JSON.parse(value![1]!) as typeof manifest;
    } finally {
      for (const [name, value] of Object.entries(saved)) if (value === undefined) delete process.env[name];
      else process.env[name] = value;
      await server?.stop();
      server = undefined;
    }
    const registered = new URL(manifest.hook_attributes.url);
    expect(registered.origin).toBe("https://digesta.example.com");

    // Registered: the server restarts with the app's credentials.
    const port = await freePort();
    ({ server } = await startServer({ ...baseEnv(port), APP_ID: "1", PRIVATE_KEY, WEBHOOK_SECRET: SECRET }));
    const local = `http://127.0.0.1:${port}`;
    const ping = await signedPing(`${local}${registered.pathname}${registered.search}`);
    expect(ping.status).toBe(200);
    // The documented path of apps registered by hand still works.
    expect((await signedPing(`${local}/api/github/webhooks`, SECRET, "d-2")).status).toBe(200);
  });

  it("refuses a delivery to the registered URL whose signature is wrong, and serves nothing else there", async () => {
    const port = await freePort();
    ({ server } = await startServer({ ...baseEnv(port), APP_ID: "1", PRIVATE_KEY, WEBHOOK_SECRET: SECRET }));
    const local = `http://127.0.0.1:${port}`;
    // Answered by the webhook verifier itself (a 404 would mean nothing listens there).
    const forged = await signedPing(`${local}/`, "not-the-secret");
    expect(forged.status).toBe(400);
    expect(await forged.text()).toMatch(/signature does not match/i);
    const unsigned = await fetch(`${local}/`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.text()).toMatch(/x-hub-signature-256/);
    expect((await fetch(`${local}/`)).status).toBe(404);
  });
});
