import type { Logger } from "pino";
import { createPackageListCache } from "../diff/cache.js";
import { readImageContents } from "../diff/contents.js";
import { diffImages } from "../diff/image-diff.js";
import { createRegistryClient, type BackoffOptions, type ObservedRequest } from "../registry/client.js";
import type { CredentialSource } from "../registry/credentials.js";
import { createPinFollower } from "../registry/follow.js";
import { memoizeManifests } from "../registry/manifest-memo.js";
import { createAddressCheckedLookup, createPrivateAddressPolicy } from "../registry/host-policy.js";
import { createMemoryCache, type SharedCache } from "../store/shared-cache.js";
import { shareDiffs, shareRegistry } from "../store/shared-registry.js";
import { createRegistrySession, type RegistrySession } from "./session.js";
import { withVulnerabilities } from "../engine/vulnerabilities.js";
import { createOsvSource, osvUrlFrom } from "../vuln/osv.js";
import { createAttestedScanSource } from "../vuln/attested-scans.js";
import type { PackageVulnerabilitySource } from "../vuln/source.js";

export interface RegistrySettings {
  /**
   * Registry hosts (`host` or `host:port`) the app may reach although they resolve to loopback, link-local or
   * private addresses. Every other such host is refused, so a repository cannot make the app probe the network
   * it runs in. From `DIGESTA_ALLOW_PRIVATE_REGISTRIES`.
   */
  readonly allowPrivateRegistries?: readonly string[];
  /** Hosts reached over plain HTTP (`DIGESTA_INSECURE_REGISTRIES` is read by the client too). */
  readonly insecureRegistries?: readonly string[];
  /** The operator's registry credentials; default the Docker config (`DOCKER_CONFIG`), never a repository's. */
  readonly credentials?: CredentialSource;
  readonly logger?: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** Retries after a 429, a 5xx or a network error, and their delays (the client's defaults otherwise). */
  readonly retries?: number;
  readonly backoff?: BackoffOptions;
  /** Where the vulnerabilities of changed packages are looked up (`DIGESTA_OSV_URL`); none when undefined. */
  readonly vulnerabilities?: PackageVulnerabilitySource;
  /** Told of every registry request sent and how it ended (metrics, tests): the status, or 0 for a network failure. */
  readonly observe?: (request: ObservedRequest) => void;
  /** Where answers are shared beyond one session: Redis for a fleet; default this process's memory. */
  readonly cache?: SharedCache;
  /** Registries read through a mirror (`REGISTRY=MIRROR[/PREFIX]`), besides DIGESTA_REGISTRY_MIRRORS (the Action's input). */
  readonly mirrors?: readonly string[];
  /** A Sigstore trusted root file for keyless signature checks (`DIGESTA_TRUSTED_ROOT`); default the public-good one. */
  readonly trustedRoot?: string;
}

export type { ObservedRequest };

/** The settings an operator gives through the environment. */
export function registrySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): RegistrySettings {
  const osvUrl = osvUrlFrom(undefined, env);
  return {
    allowPrivateRegistries: listOf(env["DIGESTA_ALLOW_PRIVATE_REGISTRIES"]),
    env,
    ...(osvUrl ? { vulnerabilities: createOsvSource({ url: osvUrl }) } : {}),
    ...(env["DIGESTA_TRUSTED_ROOT"] ? { trustedRoot: env["DIGESTA_TRUSTED_ROOT"] } : {}),
  };
}

/**
 * One registry client for the app's life (connections, tokens, per-registry limits, the private-address policy)
 * and one package cache (layers shared by many images are read once); each call gives a fresh session with its own
 * pin follower, so a sweep sees tags as they are now and resolves each once. Sessions of one `batch` (a sweep)
 * share what tags point to through the cache, across the fleet on Redis.
 */
export function createSessionFactory(settings: RegistrySettings = {}): (batch?: string) => RegistrySession {
  const allow = settings.allowPrivateRegistries ?? [];
  const registry = createRegistryClient({
    // Checked before each host's first request, with a clear error, and again at every connection (DNS rebinding),
    // through a proxy too: its tunnel is asked for the address checked.
    hostPolicy: createPrivateAddressPolicy({ allow }),
    lookup: createAddressCheckedLookup({ allow }),
    ...(settings.observe ? { observe: settings.observe } : {}),
    ...(settings.insecureRegistries ? { insecureRegistries: settings.insecureRegistries } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    ...(settings.logger ? { logger: settings.logger } : {}),
    ...(settings.env ? { env: settings.env } : {}),
    ...(settings.retries !== undefined ? { retries: settings.retries } : {}),
    ...(settings.backoff ? { backoff: settings.backoff } : {}),
    ...(settings.mirrors?.length ? { mirrors: settings.mirrors } : {}),
  });
  const packages = createPackageListCache();
  const cache = settings.cache ?? createMemoryCache();
  return (batch) => {
    // One manifest memo per session: what the follower read, the confirmation before a write and the diffs share it.
    const shared = memoizeManifests(shareRegistry(registry, { cache, ...(batch ? { batch } : {}) }));
    return createRegistrySession({
      registry,
      shared,
      cache,
      ...(settings.trustedRoot ? { trustedRoot: settings.trustedRoot } : {}),
      follower: createPinFollower(shared, settings.logger ? { logger: settings.logger } : {}),
      // Package diffs are shared by digest pair; vulnerabilities are looked up fresh on top of them.
      diff: withVulnerabilities(
        shareDiffs(
          (image, tag, from, to, platform) =>
            diffImages(shared, image, from, to, { platform, cache: packages, tag, ...(settings.logger ? { logger: settings.logger } : {}) }),
          cache,
        ),
        { scans: createAttestedScanSource(shared), ...(settings.vulnerabilities ? { packages: settings.vulnerabilities } : {}) },
        settings.logger,
      ),
      contents: (image, digest, platform) => readImageContents(shared, image, digest, { platform, cache: packages }),
    });
  };
}

function listOf(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
}
