// A Docker registry token server (distribution's `auth: token` scheme) for integration tests: checks Basic
// credentials, grants the requested repository actions and signs an ES256 JWT whose `x5c` header carries the
// issuer certificate the registry trusts as its `rootcertbundle`.
import { execFile } from "node:child_process";
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const TOKEN_SERVICE = "digesta-test-registry";
export const TOKEN_ISSUER = "digesta-test-token-server";

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** One action grant in a token, as distribution reads it. */
export interface TokenAccess {
  readonly type: string;
  readonly name: string;
  readonly actions: string[];
}

/** What the token server saw and answered, one entry per token request. */
export interface TokenRequest {
  readonly method: string;
  /** The `scope` parameters as sent, e.g. `repository:team/app:pull`. */
  readonly scopes: string[];
  readonly service: string | null;
  /** The Basic user name, when one was sent. */
  readonly username?: string;
  readonly status: number;
  readonly granted: TokenAccess[];
}

export interface TokenServerOptions {
  readonly users: readonly Credentials[];
  /** Whether requests without credentials get `pull` on every repository (like public images). Default false. */
  readonly anonymousPull?: boolean;
  /** Lifetime of issued tokens, reported as `expires_in`. Default 300 s. */
  readonly lifetimeSeconds?: number;
}

export interface TokenServer {
  /** The realm to put in the registry's configuration: `http://127.0.0.1:PORT/token`. */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM file of the issuer certificate, for the registry's `rootcertbundle`. */
  readonly rootCertBundle: string;
  /** Every token request so far, oldest first. */
  readonly requests: readonly TokenRequest[];
  /** Changes the lifetime of tokens issued from now on. */
  setLifetime(seconds: number): void;
  stop(): Promise<void>;
}

interface SigningIdentity {
  readonly dir: string;
  readonly key: KeyObject;
  readonly certPem: string;
  readonly certPath: string;
  /** Standard base64 of the certificate's DER, as `x5c` wants it. */
  readonly certDer: string;
}

let identity: Promise<SigningIdentity> | undefined;

/** The issuer key and self-signed certificate, generated once per test process with the openssl CLI. */
function signingIdentity(): Promise<SigningIdentity> {
  identity ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "digesta-token-issuer-"));
    const keyPath = join(dir, "issuer.key");
    const certPath = join(dir, "issuer.pem");
    await run("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", keyPath, "-out", certPath, "-days", "2", "-subj", `/CN=${TOKEN_ISSUER}`,
    ]);
    const certPem = await readFile(certPath, "utf8");
    const key = createPrivateKey(await readFile(keyPath, "utf8"));
    const certDer = new X509Certificate(certPem).raw.toString("base64");
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    return { dir, key, certPem, certPath, certDer };
  })();
  return identity;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

function signJwt(id: SigningIdentity, claims: Record<string, unknown>): string {
  const header = { typ: "JWT", alg: "ES256", x5c: [id.certDer] };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  // JWS wants ECDSA signatures as raw r||s, not DER.
  const signature = sign("sha256", Buffer.from(input), { key: id.key, dsaEncoding: "ieee-p1363" });
  return `${input}.${base64url(signature)}`;
}

/** Splits `type:name:actions`; the name may itself contain colons (a `host:port/repo` is not expected, but tolerated). */
function parseScope(scope: string): TokenAccess | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last <= first) return undefined;
  const actions = scope.slice(last + 1).split(",").filter(Boolean);
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

function basicCredentials(header: string | undefined): Credentials | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function readBody(request: IncomingMessage, limit = 64 * 1024): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error("token request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sameSecret(a: string, b: string): boolean {
  return createHash("sha256").update(a).digest().equals(createHash("sha256").update(b).digest());
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const id = await signingIdentity();
  const requests: TokenRequest[] = [];
  let lifetime = options.lifetimeSeconds ?? 300;

  function reply(response: ServerResponse, status: number, body: unknown, record: Omit<TokenRequest, "status">) {
    requests.push({ ...record, status });
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(body));
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://token.invalid");
    if (url.pathname !== "/token" || (request.method !== "GET" && request.method !== "POST")) {
      response.writeHead(404).end();
      return;
    }
    // GET: Docker's token protocol; POST: the OAuth2 password grant (form-encoded) some clients prefer.
    const params = request.method === "POST" ? new URLSearchParams(await readBody(request)) : url.searchParams;
    let credentials = basicCredentials(request.headers.authorization);
    if (request.method === "POST" && params.get("grant_type") === "password") {
      credentials = { username: params.get("username") ?? "", password: params.get("password") ?? "" };
    }
    const scopes = params.getAll("scope").flatMap((scope) => scope.split(" ")).filter(Boolean);
    const record = { method: request.method, scopes, service: params.get("service"), username: credentials?.username, granted: [] };

    if (credentials) {
      const { username, password } = credentials;
      const user = options.users.find((u) => u.username === username);
      if (!user || !sameSecret(user.password, password)) {
        reply(response, 401, { errors: [{ code: "UNAUTHORIZED", message: "invalid username or password" }] }, record);
        return;
      }
    }
    const granted: TokenAccess[] = [];
    for (const scope of scopes) {
      const access = parseScope(scope);
      if (!access || access.type !== "repository") continue;
      const actions = credentials ? access.actions : options.anonymousPull ? access.actions.filter((a) => a === "pull") : [];
      if (actions.length) granted.push({ ...access, actions });
    }
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(id, {
      iss: TOKEN_ISSUER,
      sub: credentials?.username ?? "",
      aud: TOKEN_SERVICE,
      exp: now + lifetime,
      nbf: now - 1,
      iat: now,
      jti: randomBytes(12).toString("hex"),
      access: granted,
    });
    reply(response, 200, { token, access_token: token, expires_in: lifetime, issued_at: new Date(now * 1000).toISOString() }, {
      ...record,
      granted,
    });
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(400);
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    realm: `http://127.0.0.1:${port}/token`,
    service: TOKEN_SERVICE,
    issuer: TOKEN_ISSUER,
    rootCertBundle: id.certPath,
    requests,
    setLifetime(seconds) {
      lifetime = seconds;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
