import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";

export const SWEEP_PATH = "/digesta/sweep";

export interface SweepEndpointOptions {
  /** The shared secret; without one the endpoint is off (503). */
  readonly secret: string | undefined;
  readonly sweep: (options: { force: boolean }) => Promise<unknown>;
  readonly log: Logger;
  readonly path?: string;
}

/**
 * `POST /digesta/sweep` with `Authorization: Bearer <DIGESTA_SWEEP_SECRET>` starts a sweep (answering 202 at once;
 * `?force=true` refreshes every repository, not only the due ones). A handler for Probot's `addHandler`: returns
 * false for other paths so the next handler answers.
 */
export function createSweepHandler(options: SweepEndpointOptions) {
  const path = options.path ?? SWEEP_PATH;
  const expected = options.secret ? digestOf(options.secret) : undefined;
  return (request: IncomingMessage, response: ServerResponse): boolean => {
    const url = new URL(request.url ?? "/", "http://digesta.invalid");
    if (url.pathname !== path) return false;
    request.resume();
    if (request.method !== "POST") {
      reply(response, 405, { error: "use POST" }, { allow: "POST" });
      return true;
    }
    if (!expected) {
      reply(response, 503, { error: "the sweep endpoint is off: set DIGESTA_SWEEP_SECRET to turn it on" });
      return true;
    }
    if (!secretMatches(givenSecret(request), expected)) {
      options.log.warn({ remote: request.socket.remoteAddress }, "sweep refused: wrong or missing secret");
      reply(response, 401, { error: "wrong or missing secret" }, { "www-authenticate": "Bearer" });
      return true;
    }
    const force = url.searchParams.get("force") === "true" || url.searchParams.get("force") === "1";
    options.sweep({ force }).catch((error: unknown) => options.log.error({ err: error }, "sweep failed"));
    reply(response, 202, { status: "started", force });
    return true;
  };
}

/** The secret a request carries: `Authorization: Bearer …`, or `X-Digesta-Secret`. */
export function givenSecret(request: IncomingMessage): string | undefined {
  return bearer(request.headers.authorization) ?? headerValue(request.headers["x-digesta-secret"]);
}

/** Whether a given secret is the expected one (`digestOf` it). */
export function secretMatches(given: string | undefined, expected: Buffer): boolean {
  // Both sides hashed first: equal lengths for timingSafeEqual, and nothing learnt from the comparison's duration.
  return given !== undefined && timingSafeEqual(digestOf(given), expected);
}

function bearer(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function digestOf(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

export function reply(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}
