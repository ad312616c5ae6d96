import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { run, type Server } from "probot";
import { createDigesta, type DigestaController } from "./app.js";
import { createSessionFactory, registrySettingsFromEnv } from "./registry-setup.js";
import { withManifestWebhookPath } from "./webhook-path.js";

/**
 * The hosted app: Probot's server (webhooks at `/api/github/webhooks` and at `/`, where the manifest flow registers
 * them; `/ping`; the manifest flow itself when `APP_ID` is not set yet) with digesta loaded, the in-process scheduler,
 * and `POST /digesta/sweep`.
 */
export async function startServer(env: NodeJS.ProcessEnv = process.env): Promise<{ server: Server; digesta: DigestaController }> {
  const digesta = createDigesta({
    createSession: createSessionFactory(registrySettingsFromEnv(env)),
    ...(env["DIGESTA_SWEEP_SECRET"] ? { sweepSecret: env["DIGESTA_SWEEP_SECRET"] } : {}),
    schedulerIntervalMs: env["DIGESTA_SCHEDULER"] === "off" ? false : 60_000,
    concurrency: positive(env["DIGESTA_CONCURRENCY"]) ?? 4,
  });
  const server = await run(withManifestWebhookPath(digesta.app), { env });
  process.once("SIGTERM", () => {
    digesta.stop();
    void server.stop().finally(() => process.exit(0));
  });
  return { server, digesta };
}

function positive(value: string | undefined): number | undefined {
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : undefined;
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  startServer().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
