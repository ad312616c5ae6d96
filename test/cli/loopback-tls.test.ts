import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProcess } from "../support/process.js";

// A loopback registry is asked over plain HTTP first (see RegistrySession.ping): one that speaks TLS must still be
// reached, over HTTPS, its certificate checked. The command line runs as a user runs it, trusting the test's own
// certificate authority through NODE_EXTRA_CA_CERTS; the registry is Node's TLS server, which hangs up on plain HTTP.

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");
const MANIFEST = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: {}, layers: [] });
const DIGEST = `sha256:${createHash("sha256").update(MANIFEST).digest("hex")}`;

let dir: string;
let server: Server;
let host: string;
const seen: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "digesta-loopback-tls-"));
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
  ]);
  server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (request, response) => {
    seen.push(`${request.method} ${request.url}`);
    if (request.url === "/v2/") return void response.writeHead(200, { "content-type": "application/json" }).end("{}");
    if (request.url === "/v2/team/app/manifests/1.0") {
      response.writeHead(200, {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "docker-content-digest": DIGEST,
        "content-length": Buffer.byteLength(MANIFEST),
      });
      return void response.end(request.method === "HEAD" ? undefined : MANIFEST);
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe("resolve against a loopback registry that speaks TLS", () => {
  it("moves from plain HTTP to HTTPS and checks the certificate", async () => {
    const env = { PATH: process.env["PATH"], HOME: dir, NODE_EXTRA_CA_CERTS: join(dir, "cert.pem"), DIGESTA_RETRIES: "0" };
    const { code, stdout, stderr } = await runProcess(process.execPath, ["--import", "tsx", "src/cli/bin.ts", "resolve", `${host}/team/app:1.0`], { cwd: ROOT, env });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(DIGEST);
    // The manifest itself, as skopeo inspect --raw asks: a HEAD's digest would be a claim nothing checks.
    expect(seen).toEqual(["GET /v2/", "GET /v2/team/app/manifests/1.0"]);
  });

  it("refuses the registry when its certificate is not trusted, saying so", async () => {
    const env = { PATH: process.env["PATH"], HOME: dir, DIGESTA_RETRIES: "0" };
    const { code, stdout, stderr } = await runProcess(process.execPath, ["--import", "tsx", "src/cli/bin.ts", "resolve", `${host}/team/app:1.0`], { cwd: ROOT, env });
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/self[- ]signed|SELF_SIGNED|certificate/i);
  });
});
