import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { run, type Server } from "probot";
import { withGitHubProxy } from "../net/proxy-fetch.js";
import { createMetrics } from "../metrics/metrics.js";
import { createAppLogger } from "../logging/app-logger.js";
import { createDigesta, type DigestaController } from "./app.js";
import { fleetFromEnv } from "./fleet-setup.js";
import { githubClientFromEnv } from "./github-setup.js";
import { createSessionFactory, registrySettingsFromEnv } from "./registry-setup.js";
import { withManifestWebhookPath } from "./webhook-path.js";

/**
 * The hosted app: Probot's server (webhooks at `/api/github/webhooks` and at `/`, where the manifest flow registers
 * them; `/ping`; the manifest flow itself when `APP_ID` is not set yet) with digesta loaded, the scheduler, and
 * `POST /digesta/sweep`. With `REDIS_URL`, one process of a fleet, as `DIGESTA_ROLE` says (web, worker or all).
 */
export async function startServer(
  env: NodeJS.ProcessEnv = process.env,
  options: { readonly logDestination?: NodeJS.WritableStream } = {},
): Promise<{ server: Server; digesta: DigestaController }> {
  const metrics = createMetrics();
  // HTTPS_PROXY and NO_PROXY for GitHub's API as for registries: Octokit's requests go through the same rules.
  const Octokit = withGitHubProxy(githubClientFromEnv(env), env);
  const fleet = fleetFromEnv(env, { onLookup: (kind, hit) => metrics.cacheLookup(kind, hit) });
  const digesta = createDigesta({
    createSession: createSessionFactory({
      ...registrySettingsFromEnv(env),
      cache: fleet.cache,
      observe: (request) => metrics.registryRequest(request.host, request.status),
    }),
    queue: fleet.queue,
    book: fleet.book,
    pins: fleet.pins,
    metrics,
    ...(env["DIGESTA_REGISTRY_EVENTS_SECRET"] ? { registryEventsSecret: env["DIGESTA_REGISTRY_EVENTS_SECRET"] } : {}),
    ...(env["DIGESTA_METRICS_SECRET"] ? { metricsSecret: env["DIGESTA_METRICS_SECRET"] } : {}),
    work: fleet.role !== "web",
    ...(env["DIGESTA_SWEEP_SECRET"] ? { sweepSecret: env["DIGESTA_SWEEP_SECRET"] } : {}),
    // The schedule is kept by the processes that run jobs; on Redis it is one schedule for the whole fleet.
    schedulerIntervalMs: env["DIGESTA_SCHEDULER"] === "off" || fleet.role === "web" ? false : 60_000,
    concurrency: fleet.concurrency,
  });
  // Digesta's logger, not Probot's default: it redacts secrets (the sweep secret, webhook signatures, any credential
  // header) in every line, Probot's request log included.
  const server = await run(withManifestWebhookPath(digesta.app), {
    env,
    log: await createAppLogger(env, options.logDestination),
    ...(Octokit ? { Octokit } : {}),
  });
  const shutdown = () => {
    // Stop taking jobs; running ones finish (or, on Redis, go back to the queue for another worker).
    digesta.stop();
    void Promise.allSettled([digesta.idle(), server.stop()])
      .then(() => fleet.close())
      .finally(() => process.exit(0));
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  return { server, digesta };
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  startServer().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
