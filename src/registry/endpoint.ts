import { isIP } from "node:net";
import { registryEndpoint } from "../reference/name.js";
import { domainProblem, pathProblem, tagProblem } from "../reference/grammar.js";
import { isDigest } from "../reference/digest.js";
import type { ImageName } from "../reference/types.js";
import { RegistryError } from "./errors.js";

export { registryEndpoint };

/** The host part of `host`, `host:port`, `[v6]` or `[v6]:port`, without brackets, lowercase. */
export function hostnameOf(host: string): string {
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    return (close < 0 ? host.slice(1) : host.slice(1, close)).toLowerCase();
  }
  const colon = host.indexOf(":");
  // More than one colon without brackets: a bare IPv6 address.
  if (colon >= 0 && host.indexOf(":", colon + 1) >= 0) return host.toLowerCase();
  return (colon < 0 ? host : host.slice(0, colon)).toLowerCase();
}

/** localhost, 127.0.0.0/8 or ::1 (with or without a port), the hosts Docker lets speak plain HTTP by default. */
export function isLoopbackHost(host: string): boolean {
  const name = hostnameOf(host);
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (isIP(name) === 4) return name.startsWith("127.");
  if (isIP(name) === 6) return name === "::1" || name === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(name);
  return false;
}

/** Whether a URL's host (as `URL.host` gives it) is loopback. */
export function isLoopbackUrl(url: URL): boolean {
  return isLoopbackHost(url.host);
}

/** Hosts allowed over plain HTTP: loopback, plus the configured insecure registries (compared with and without port). */
export class SchemePolicy {
  private readonly insecure: ReadonlySet<string>;

  /** `proxied` says whether a URL's requests go through a proxy (their plain-HTTP bytes then cross the network). */
  constructor(
    insecureRegistries: readonly string[],
    private readonly proxied: (url: URL) => boolean = () => false,
  ) {
    this.insecure = new Set(insecureRegistries.map((entry) => stripScheme(entry.trim()).toLowerCase()).filter(Boolean));
  }

  /** Credentials travel over HTTPS, or over plain HTTP to loopback when no proxy stands between. */
  mayCarryCredentials(url: URL): boolean {
    return mayCarryCredentials(url) && !(url.protocol === "http:" && this.proxied(url));
  }

  /** Whether plain HTTP is the first thing to try for `url`: loopback, with no proxy between. */
  prefersHttp(url: URL): boolean {
    return url.protocol === "http:" && isLoopbackUrl(url) && !this.proxied(url);
  }

  /** Whether `host` (with or without port) may be spoken to over plain HTTP. */
  allowsHttp(host: string): boolean {
    const lower = host.toLowerCase();
    return isLoopbackHost(lower) || this.insecure.has(lower) || this.insecure.has(hostWithoutPort(lower));
  }

  /** Whether a request to `url` may be sent at all: HTTPS always, HTTP only to allowed hosts. */
  allowsUrl(url: URL): boolean {
    if (url.protocol === "https:") return true;
    return url.protocol === "http:" && this.allowsHttp(url.host);
  }
}

/** Credentials travel only over HTTPS, or over plain HTTP to loopback (nothing to sniff there). */
export function mayCarryCredentials(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackUrl(url));
}

/** Insecure-registry list from the environment: `DIGESTA_INSECURE_REGISTRIES=a:5000,b`. */
export function insecureRegistriesFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const value = env["DIGESTA_INSECURE_REGISTRIES"];
  if (!value) return [];
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
}

function stripScheme(entry: string): string {
  const withoutScheme = entry.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const slash = withoutScheme.indexOf("/");
  return slash < 0 ? withoutScheme : withoutScheme.slice(0, slash);
}

function hostWithoutPort(host: string): string {
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    return close < 0 ? host : host.slice(0, close + 1);
  }
  const colon = host.indexOf(":");
  return colon < 0 || host.indexOf(":", colon + 1) >= 0 ? host : host.slice(0, colon);
}

/**
 * Checks a name and reference before they go into a URL path: names come from files we treat as hostile,
 * and a `..` or `?` smuggled into a path must never reach the registry.
 */
export function assertValidName(name: ImageName): void {
  const problem = domainProblem(name.registry) ?? pathProblem(name.repository);
  if (problem) {
    throw new RegistryError("INVALID_REFERENCE", `refusing to query ${JSON.stringify(`${name.registry}/${name.repository}`.slice(0, 120))}: ${problem}`);
  }
}

/** A tag or a digest, checked the same way. */
export function assertValidReference(name: ImageName, reference: string): void {
  if (isDigest(reference)) return;
  const problem = tagProblem(reference);
  if (problem) {
    throw new RegistryError(
      "INVALID_REFERENCE",
      `refusing to query ${name.registry}/${name.repository} for ${JSON.stringify(reference.slice(0, 140))}: ${problem}`,
    );
  }
}
