import type { ApplicationFunction, ApplicationFunctionOptions, Probot } from "probot";

type Handler = Parameters<ApplicationFunctionOptions["addHandler"]>[0];

/**
 * Where Probot's manifest flow (the setup page) registers the webhook: `${baseUrl}/`. Probot itself listens at
 * `/api/github/webhooks` (WEBHOOK_PATH), the URL apps registered by hand are given. digesta takes deliveries at both,
 * with the same signature check, so an app registered either way receives its events.
 */
export const MANIFEST_WEBHOOK_PATH = "/";

/** `app` plus a handler for signed deliveries POSTed to the manifest's webhook path. */
export function withManifestWebhookPath(app: ApplicationFunction): ApplicationFunction {
  return async (probot, options) => {
    await app(probot, options);
    options.addHandler(await manifestWebhookHandler(probot));
  };
}

async function manifestWebhookHandler(probot: Probot): Promise<Handler> {
  if (probot.webhookPath === MANIFEST_WEBHOOK_PATH) return () => false;
  const deliveries = await probot.getNodeMiddleware({ path: MANIFEST_WEBHOOK_PATH });
  return (request, response) => {
    // Only deliveries: any other request to `/` falls through to the next handler (404 when none).
    if (request.method !== "POST" || new URL(request.url ?? "/", "http://digesta.invalid").pathname !== MANIFEST_WEBHOOK_PATH) return false;
    return deliveries(request, response);
  };
}
