import type { Logger } from "pino";
import type { SchemePolicy } from "./endpoint.js";
import { RegistryError } from "./errors.js";
import type { CredentialSource, RegistryCredential } from "./credentials.js";
import { optionalString, orElse } from "./json-shape.js";
import { parseJsonObject } from "./manifest.js";
import { failureFrom } from "./response.js";
import type { Transport } from "./transport.js";

/** One challenge from a `WWW-Authenticate` header; parameter names lowercased. */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses a `WWW-Authenticate` value (RFC 7235): several challenges, each a scheme and `key=value` or
 * `key="quoted, with \"escapes\""` parameters.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let current: { scheme: string; params: Record<string, string> } | undefined;
  let i = 0;
  const n = header.length;
  const isSpace = (c: string | undefined): boolean => c === " " || c === "\t";
  const skipSpaces = (): void => {
    while (i < n && isSpace(header[i])) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && !isSpace(header[i]) && header[i] !== "," && header[i] !== "=") i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipSpaces();
    if (header[i] === ",") {
      i++;
      continue;
    }
    const token = readToken();
    if (token === "") {
      i++;
      continue;
    }
    skipSpaces();
    if (header[i] === "=" && current) {
      i++;
      skipSpaces();
      let value = "";
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === "\\" && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < n && !isSpace(header[i]) && header[i] !== ",") i++;
        value = header.slice(start, i);
      }
      current.params[token.toLowerCase()] = value;
    } else if (header[i] === "=") {
      // A token68 or stray parameter with no scheme before it: skip it.
      while (i < n && header[i] !== ",") i++;
    } else {
      current = { scheme: token, params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

/** Bearer if offered (it scopes access), else Basic; other schemes we cannot answer. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  const bearer = challenges.find((c) => c.scheme.toLowerCase() === "bearer" && c.params["realm"]);
  return bearer ?? challenges.find((c) => c.scheme.toLowerCase() === "basic");
}

/** `repository:NAME:pull`, the only scope digesta ever asks for. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

export interface Authorization {
  /** The `Authorization` header value, or undefined to go anonymous. */
  readonly header?: string;
  /** Whether a token came from the cache (a 401 then warrants one refresh). */
  readonly cached: boolean;
}

export interface AuthenticatorDeps {
  readonly transport: Transport;
  readonly credentials: CredentialSource;
  readonly scheme: SchemePolicy;
  readonly now: () => number;
  readonly logger?: Logger;
}

const MAX_TOKEN_RESPONSE = 1024 * 1024;
const DEFAULT_TOKEN_SECONDS = 60;
/** Tokens are header values: visible ASCII only, bounded. */
const TOKEN_SHAPE = /^[\x21-\x7e]{1,16384}$/;

interface CachedToken {
  readonly header: string;
  /** When we stop using it: shortly before the registry's expiry. */
  readonly renewAt: number;
}

/**
 * Authorization for one registry: remembers its challenge, asks its token service for one token per scope
 * (cached until shortly before expiry, concurrent requests sharing one fetch), or sends Basic credentials.
 * Credentials go only to this registry and its token realm, over HTTPS or to loopback.
 */
export class Authenticator {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();

  constructor(
    /** The registry as ImageName writes it: credentials are looked up under this name. */
    private readonly registry: string,
    /** Where the registry's API is (scheme and host), decided by the ping. */
    private readonly origin: URL,
    challenge: Challenge | undefined,
    private readonly deps: AuthenticatorDeps,
  ) {
    this.challenge = challenge;
  }

  /** Adopts the challenge of a 401; true when it differs from the one we had (so a retry can succeed). */
  updateChallenge(challenge: Challenge): boolean {
    const before = this.challenge;
    this.challenge = challenge;
    if (!before) return true;
    return (
      before.scheme.toLowerCase() !== challenge.scheme.toLowerCase() ||
      before.params["realm"] !== challenge.params["realm"] ||
      before.params["service"] !== challenge.params["service"]
    );
  }

  async authorization(scope: string, options: { refresh?: boolean } = {}): Promise<Authorization> {
    const challenge = this.challenge;
    if (!challenge) return { cached: false };
    if (challenge.scheme.toLowerCase() === "basic") {
      const credential = await this.credential();
      if (credential?.kind !== "basic" || !this.deps.scheme.mayCarryCredentials(this.origin)) return { cached: false };
      return { header: basicHeader(credential), cached: false };
    }
    const key = this.cacheKey(challenge, scope);
    if (options.refresh) this.tokens.delete(key);
    const hit = this.tokens.get(key);
    if (hit && this.deps.now() < hit.renewAt) return { header: hit.header, cached: true };
    let fetching = this.pending.get(key);
    if (!fetching) {
      fetching = this.fetchToken(challenge, scope).finally(() => this.pending.delete(key));
      this.pending.set(key, fetching);
    }
    const token = await fetching;
    this.tokens.set(key, token);
    return { header: token.header, cached: false };
  }

  private cacheKey(challenge: Challenge, scope: string): string {
    return `${challenge.params["realm"] ?? ""}\n${challenge.params["service"] ?? ""}\n${scope}`;
  }

  private credential(): Promise<RegistryCredential | undefined> {
    return this.deps.credentials.get(this.registry);
  }

  private async fetchToken(challenge: Challenge, scope: string): Promise<CachedToken> {
    const realm = this.realmUrl(challenge);
    const service = challenge.params["service"];
    const credential = this.deps.scheme.mayCarryCredentials(realm) ? await this.credential() : undefined;
    const what = `${this.registry} (scope ${scope})`;
    const headers: Record<string, string> = { accept: "application/json" };
    let method: "GET" | "POST" = "GET";
    let body: string | undefined;
    if (credential?.kind === "identity-token") {
      // Docker's OAuth2 flow: the identity token is a refresh token, exchanged by a form POST to the realm.
      method = "POST";
      headers["content-type"] = "application/x-www-form-urlencoded";
      const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: credential.token, client_id: "digesta", scope });
      if (service) form.set("service", service);
      body = form.toString();
    } else {
      if (service) realm.searchParams.append("service", service);
      realm.searchParams.append("scope", scope);
      if (credential?.kind === "basic") headers["authorization"] = basicHeader(credential);
    }
    const started = this.deps.now();
    const token = await this.deps.transport.perform({ what }, async (deadline) => {
      const exchange = await this.deps.transport.send(
        {
          method,
          url: realm,
          headers,
          ...(body !== undefined ? { body } : {}),
          kind: "token",
          what,
          allowHttp: this.origin.protocol === "http:" && realm.hostname === this.origin.hostname,
        },
        deadline,
      );
      if (exchange.status !== 200) {
        throw await failureFrom(exchange, {
          what,
          action: `token request to ${realm.host}`,
          registry: this.registry,
          ...(exchange.status === 401 && credential
            ? { hint: `the token service rejected the credentials for ${this.registry}; log in again with "docker login ${this.registry}"` }
            : {}),
        });
      }
      return parseJsonObject(await exchange.bytes(MAX_TOKEN_RESPONSE), `${what}: token response from ${realm.host}`);
    });
    const value = orElse(() => optionalString(token["token"], ["token"]) || optionalString(token["access_token"], ["access_token"]), undefined);
    if (!value || !TOKEN_SHAPE.test(value)) {
      throw new RegistryError("BAD_RESPONSE", `${what}: the token service at ${realm.host} answered without a usable token`);
    }
    const stated = token["expires_in"];
    const expiresIn = typeof stated === "number" && Number.isFinite(stated) && stated > 0 ? stated : DEFAULT_TOKEN_SECONDS;
    const lifetimeMs = expiresIn * 1000;
    // Renew 10 s early, or halfway through a token shorter-lived than 20 s.
    const renewAt = started + Math.max(lifetimeMs - 10_000, lifetimeMs / 2);
    this.deps.logger?.debug({ registry: this.registry, scope, expiresIn }, "got registry token");
    return { header: `Bearer ${value}`, renewAt };
  }

  private realmUrl(challenge: Challenge): URL {
    const realm = challenge.params["realm"] ?? "";
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError("BAD_RESPONSE", `${this.registry}: the registry names an invalid token realm`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new RegistryError("BAD_RESPONSE", `${this.registry}: the registry names a token realm that is not HTTP(S)`);
    }
    if (url.username || url.password) {
      throw new RegistryError("BAD_RESPONSE", `${this.registry}: the registry names a token realm carrying credentials`);
    }
    return url;
  }
}

function basicHeader(credential: { readonly username: string; readonly password: string }): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`, "utf8").toString("base64")}`;
}
