// The app's server as an operator runs it, for tests and benches that start it as its own process: the environment
// of one fleet process (a GitHub App's key and webhook secret, GitHub Enterprise Server's API at a GitHub fake over
// plain HTTP, Redis), a free loopback port, and the wait until it answers.
import { freePort } from "./free-port.js";

export { freePort };

export interface AppServerSettings {
  readonly port: number;
  readonly privateKey: string;
  readonly webhookSecret: string;
  /** The GitHub fake's listener (`GitHubFake#listen`), reached as GitHub Enterprise Server's `/api/v3`. */
  readonly github: string;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  readonly sweepSecret: string;
  /** The registry the pins name, allowed although it is on loopback. */
  readonly registryHost: string;
  /** More variables (DIGESTA_CONCURRENCY, DIGESTA_JOB_LOCK_MS…). */
  readonly extra?: NodeJS.ProcessEnv;
}

/** The whole environment of one app process (nothing inherited but PATH and HOME). */
export function appServerEnv(settings: AppServerSettings): NodeJS.ProcessEnv {
  return {
    PATH: process.env["PATH"],
    HOME: process.env["HOME"],
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(settings.port),
    LOG_FORMAT: "json",
    LOG_LEVEL: "info",
    APP_ID: "1",
    PRIVATE_KEY: settings.privateKey,
    WEBHOOK_SECRET: settings.webhookSecret,
    GHE_HOST: new URL(settings.github).host,
    GHE_PROTOCOL: "http",
    REDIS_URL: settings.redisUrl,
    DIGESTA_REDIS_PREFIX: settings.redisPrefix,
    DIGESTA_SWEEP_SECRET: settings.sweepSecret,
    DIGESTA_SCHEDULER: "off",
    DIGESTA_ALLOW_PRIVATE_REGISTRIES: settings.registryHost,
    DIGESTA_OSV_URL: "off",
    // As an Enterprise Server without secondary rate limits: no wait between writes.
    DIGESTA_GITHUB_WRITE_INTERVAL_MS: "0",
    ...settings.extra,
  };
}


/** Waits until the server at `url` answers `/ping`; `exited` says why it never will. */
export async function waitForPing(url: string, exited: () => string | undefined, timeoutMs = 120_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const why = exited();
    if (why) throw new Error(`the app process exited during start-up: ${why}`);
    try {
      const response = await fetch(`${url}/ping`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the app process did not answer ${url}/ping in time`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
