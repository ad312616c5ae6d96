import { homedir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { normaliseRegistry } from "../reference/name.js";
import { object, optionalString, orElse, string, stringRecord } from "./json-shape.js";

/** What we may present to one registry. */
export type RegistryCredential =
  | { readonly kind: "basic"; readonly username: string; readonly password: string }
  /** Docker's `identitytoken`: an OAuth2 refresh token, exchanged at the token realm. */
  | { readonly kind: "identity-token"; readonly token: string };

export interface CredentialSource {
  /** Credentials for `registry` as ImageName writes it (`docker.io`, `ghcr.io`, `localhost:5000`); undefined = anonymous. */
  get(registry: string): Promise<RegistryCredential | undefined>;
}

export const anonymousCredentials: CredentialSource = { get: () => Promise.resolve(undefined) };

/** Fixed credentials per registry (keys normalised like Docker config keys). */
export function staticCredentials(entries: Readonly<Record<string, RegistryCredential>>): CredentialSource {
  const byHost = new Map(Object.entries(entries).map(([key, value]) => [credentialKey(key), value]));
  return { get: (registry) => Promise.resolve(byHost.get(credentialKey(registry))) };
}

export interface DockerConfigOptions {
  /** Directory holding config.json; default `$DOCKER_CONFIG`, else `~/.docker`. */
  readonly configDir?: string;
  /** Environment for locating the config and running helpers (PATH). Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** How long a `docker-credential-*` helper may run. Default 10 s. */
  readonly helperTimeoutMs?: number;
  readonly logger?: Logger;
}

const MAX_CONFIG_BYTES = 1024 * 1024;
const MAX_HELPER_OUTPUT = 64 * 1024;
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** The key Docker uses for Docker Hub in config files and with credential helpers. */
const DOCKER_HUB_SERVER = "https://index.docker.io/v1/";

interface AuthEntry {
  readonly auth?: string;
  readonly username?: string;
  readonly password?: string;
  readonly identitytoken?: string;
}

interface DockerConfig {
  readonly auths?: Readonly<Record<string, AuthEntry>>;
  readonly credHelpers?: Readonly<Record<string, string>>;
  readonly credsStore?: string;
}

const AUTH_FIELDS = ["auth", "username", "password", "identitytoken"] as const;

/** An `auths` entry; one with a field of the wrong type counts as empty, as Docker skips what it cannot read. */
function readAuthEntry(value: unknown): AuthEntry {
  return orElse(() => {
    const json = object(value);
    const entry: Record<string, string> = {};
    for (const field of AUTH_FIELDS) {
      const text = optionalString(json[field], [field]);
      if (text !== undefined) entry[field] = text;
    }
    return entry as AuthEntry;
  }, {});
}

/** The parts of a Docker config.json digesta reads; a part of the wrong shape is left out, the rest still used. */
function readDockerConfig(value: unknown): DockerConfig {
  const json = object(value);
  const auths = orElse(() => Object.fromEntries(Object.entries(object(json["auths"])).map(([key, entry]) => [key, readAuthEntry(entry)])), undefined);
  const credHelpers = orElse(() => stringRecord(json["credHelpers"], ["credHelpers"]), undefined);
  const credsStore = orElse(() => optionalString(json["credsStore"], ["credsStore"]), undefined);
  return { ...(auths ? { auths } : {}), ...(credHelpers ? { credHelpers } : {}), ...(credsStore !== undefined ? { credsStore } : {}) };
}

/**
 * Normalises a Docker config key or registry name to a host: `https://index.docker.io/v1/` → `docker.io`,
 * `https://ghcr.io/path` → `ghcr.io`, `LOCALHOST:5000` → `localhost:5000`.
 */
export function credentialKey(serverAddress: string): string {
  const withoutScheme = serverAddress.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const slash = withoutScheme.indexOf("/");
  const host = slash < 0 ? withoutScheme : withoutScheme.slice(0, slash);
  return normaliseRegistry(host);
}

/**
 * Docker's own credential lookup: `credHelpers[host]`, then `credsStore`, then `auths` in config.json.
 * A missing helper, or one that has no credentials for the host, means anonymous; so does an unreadable
 * config (Docker too only warns). Each registry is looked up once.
 */
export function dockerConfigCredentials(options: DockerConfigOptions = {}): CredentialSource {
  const env = options.env ?? process.env;
  const dir = options.configDir ?? env["DOCKER_CONFIG"] ?? join(env["HOME"] ?? homedir(), ".docker");
  const path = join(dir, "config.json");
  const logger = options.logger;
  let config: Promise<DockerConfig> | undefined;
  const memo = new Map<string, Promise<RegistryCredential | undefined>>();

  const load = (): Promise<DockerConfig> => (config ??= readConfig(path, logger));

  async function lookup(registry: string): Promise<RegistryCredential | undefined> {
    const host = credentialKey(registry);
    const cfg = await load();
    const helper = helperFor(cfg, host);
    if (helper) {
      const fromHelper = await runHelper(helper, host, env, options.helperTimeoutMs ?? 10_000, logger);
      if (fromHelper) return fromHelper;
    }
    return fromAuths(cfg, host);
  }

  return {
    get(registry) {
      const host = credentialKey(registry);
      let found = memo.get(host);
      if (!found) {
        found = lookup(host);
        memo.set(host, found);
      }
      return found;
    },
  };
}

async function readConfig(path: string, logger: Logger | undefined): Promise<DockerConfig> {
  let text: string;
  try {
    // node:fs/promises (readline and the stream machinery behind it, on Node 24) loads when credentials are first
    // needed: an anonymous registry never asks for them.
    const buffer = await process.getBuiltinModule("node:fs/promises").readFile(path);
    if (buffer.byteLength > MAX_CONFIG_BYTES) {
      logger?.warn({ path }, "Docker config is larger than 1 MiB; ignoring it and pulling anonymously");
      return {};
    }
    text = buffer.toString("utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      logger?.warn({ path, code: (error as NodeJS.ErrnoException).code }, "cannot read Docker config; pulling anonymously");
    }
    return {};
  }
  try {
    return readDockerConfig(JSON.parse(text));
  } catch {
    // fall through to the warning
  }
  logger?.warn({ path }, "Docker config is not valid JSON; pulling anonymously (fix or remove the file)");
  return {};
}

function helperFor(config: DockerConfig, host: string): string | undefined {
  for (const [key, name] of Object.entries(config.credHelpers ?? {})) {
    if (credentialKey(key) === host && name !== "") return name;
  }
  return config.credsStore || undefined;
}

function fromAuths(config: DockerConfig, host: string): RegistryCredential | undefined {
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    if (credentialKey(key) !== host) continue;
    if (entry.identitytoken) return { kind: "identity-token", token: entry.identitytoken };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon > 0) return { kind: "basic", username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username && entry.password !== undefined) {
      return { kind: "basic", username: entry.username, password: entry.password };
    }
  }
  return undefined;
}

/** Runs `docker-credential-NAME get` with the server address on stdin, as Docker does. */
function runHelper(
  name: string,
  host: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  logger: Logger | undefined,
): Promise<RegistryCredential | undefined> {
  if (!HELPER_NAME.test(name)) {
    logger?.warn({ helper: name.slice(0, 64) }, "ignoring a credential helper with an invalid name");
    return Promise.resolve(undefined);
  }
  const program = `docker-credential-${name}`;
  const serverAddress = host === "docker.io" ? DOCKER_HUB_SERVER : host;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (value: RegistryCredential | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    // node:child_process (with dgram and the rest behind it) loads with the first helper run, not with every registry command.
    const child = process.getBuiltinModule("node:child_process").spawn(program, ["get"], { env, stdio: ["pipe", "pipe", "pipe"] });
    const timer = setTimeout(() => {
      logger?.warn({ helper: program, host }, "credential helper timed out; pulling anonymously");
      child.kill("SIGKILL");
      finish(undefined);
    }, timeoutMs);
    const stdout: Buffer[] = [];
    let size = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > MAX_HELPER_OUTPUT) {
        child.kill("SIGKILL");
        logger?.warn({ helper: program, host }, "credential helper wrote too much; pulling anonymously");
        finish(undefined);
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.resume();
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") logger?.debug({ helper: program }, "credential helper not installed; pulling anonymously");
      else logger?.warn({ helper: program, code: error.code }, "cannot run credential helper; pulling anonymously");
      finish(undefined);
    });
    child.stdin.on("error", () => {});
    child.stdin.end(serverAddress);
    child.on("close", (code) => {
      const output = Buffer.concat(stdout).toString("utf8");
      if (code !== 0) {
        if (!/credentials not found/i.test(output)) {
          logger?.warn({ helper: program, host, exitCode: code }, "credential helper failed; pulling anonymously");
        }
        finish(undefined);
        return;
      }
      finish(parseHelperOutput(output));
    });
  });
}

function parseHelperOutput(output: string): RegistryCredential | undefined {
  try {
    const json = object(JSON.parse(output));
    const Username = optionalString(json["Username"], ["Username"]) ?? "";
    const Secret = string(json["Secret"], ["Secret"]);
    if (Secret === "") return undefined;
    // Docker's convention: the username "<token>" marks the secret as an identity token.
    if (Username === "<token>") return { kind: "identity-token", token: Secret };
    return { kind: "basic", username: Username, password: Secret };
  } catch {
    return undefined;
  }
}
