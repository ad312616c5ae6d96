import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { isIndexMediaType } from "../registry/manifest.js";
import { MediaType } from "../registry/types.js";
import { digestOf, givenSecret, reply, secretMatches } from "./sweep-endpoint.js";

export const REGISTRY_EVENTS_PATH = "/digesta/registry-events";

/** Envelopes bigger than this are refused (a registry batches a few events; this is generous). */
const MAX_ENVELOPE_BYTES = 1024 * 1024;

export interface RegistryEventsOptions {
  /** `DIGESTA_REGISTRY_EVENTS_SECRET`; without it the endpoint is off (503). */
  readonly secret: string | undefined;
  /** Queues a refresh of the repositories following these tags (`registry/repository:tag`); says how many. */
  readonly pushed: (tags: readonly string[], reason: string) => Promise<number>;
  readonly log: Logger;
  readonly path?: string;
}

/** A registry host as `?registry=` may name it: a name or address, and a port. */
const HOST = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/i;
/** What distribution accepts as a repository name and a tag. */
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.OciManifest, MediaType.DockerManifest, "application/vnd.docker.distribution.manifest.v1+prettyjws"]);

/**
 * `POST /digesta/registry-events?registry=HOST` with `Authorization: Bearer <DIGESTA_REGISTRY_EVENTS_SECRET>`: a
 * registry's push notifications (the CNCF distribution envelope, `{"events":[{"action":"push","target":{…}}]}`, as
 * `notifications.endpoints` in a distribution registry's configuration sends it). Each push of a tag queues a
 * refresh of exactly the repositories whose pins follow it; answered 202 with how many, 503 when the queue is away
 * (the registry sends again).
 */
export function createRegistryEventsHandler(options: RegistryEventsOptions) {
  const path = options.path ?? REGISTRY_EVENTS_PATH;
  const expected = options.secret ? digestOf(options.secret) : undefined;
  return async (request: IncomingMessage, response: ServerResponse): Promise<boolean> => {
    const url = new URL(request.url ?? "/", "http://digesta.invalid");
    if (url.pathname !== path) return false;
    if (request.method !== "POST") {
      request.resume();
      reply(response, 405, { error: "use POST" }, { allow: "POST" });
      return true;
    }
    if (!expected) {
      request.resume();
      reply(response, 503, { error: "registry events are off: set DIGESTA_REGISTRY_EVENTS_SECRET to turn them on" });
      return true;
    }
    if (!secretMatches(givenSecret(request), expected)) {
      request.resume();
      options.log.warn({ remote: request.socket.remoteAddress }, "registry event refused: wrong or missing secret");
      reply(response, 401, { error: "wrong or missing secret" }, { "www-authenticate": "Bearer" });
      return true;
    }
    const registry = url.searchParams.get("registry") ?? "";
    if (!HOST.test(registry)) {
      request.resume();
      reply(response, 400, { error: "say which registry sends the events: ?registry=HOST[:PORT], as pins name it" });
      return true;
    }
    let tags: string[];
    try {
      tags = pushedTags(JSON.parse(await readBody(request, MAX_ENVELOPE_BYTES)), registry);
    } catch (error) {
      reply(response, error instanceof TooLarge ? 413 : 400, { error: error instanceof Error ? error.message : String(error) });
      return true;
    }
    try {
      const queued = tags.length > 0 ? await options.pushed(tags, `registry push`) : 0;
      options.log.info({ registry, tags, queued }, "registry event");
      reply(response, 202, { tags: tags.length, queued });
    } catch (error) {
      options.log.error({ err: error, registry }, "registry event not queued");
      reply(response, 503, { error: "could not queue the refreshes; send the event again" });
    }
    return true;
  };
}

/**
 * The tags a notification envelope says were pushed (`registry/repository:tag`): push events of manifests and
 * indexes with a tag; pulls, blob pushes and pushes by digest move no tag. Anything malformed in an event leaves
 * that event out; an envelope without an `events` list is an error.
 */
export function pushedTags(envelope: unknown, registry: string): string[] {
  const events = (envelope as { events?: unknown } | null)?.events;
  if (!Array.isArray(events)) throw new Error('not a registry notification: expected {"events": [...]}');
  const tags = new Set<string>();
  for (const event of events) {
    if (typeof event !== "object" || event === null || (event as { action?: unknown }).action !== "push") continue;
    const target = (event as { target?: unknown }).target as { repository?: unknown; tag?: unknown; mediaType?: unknown } | undefined;
    if (!target || typeof target.repository !== "string" || typeof target.tag !== "string") continue;
    if (!REPOSITORY.test(target.repository) || !TAG.test(target.tag)) continue;
    if (typeof target.mediaType === "string" && !MANIFEST_TYPES.has(target.mediaType) && !isIndexMediaType(target.mediaType)) continue;
    tags.add(`${registry.toLowerCase()}/${target.repository}:${target.tag}`);
  }
  return [...tags];
}

/** The tag a GitHub `registry_package` event (a container pushed to ghcr.io) published, or undefined. */
export function publishedPackageTag(payload: unknown): string | undefined {
  const pkg = (payload as { registry_package?: Record<string, unknown> } | null)?.registry_package;
  if (!pkg || String(pkg["package_type"] ?? "").toLowerCase() !== "container") return undefined;
  const namespace = pkg["namespace"] ?? (pkg["owner"] as { login?: unknown } | undefined)?.login;
  const name = pkg["name"];
  const version = pkg["package_version"] as { container_metadata?: { tag?: { name?: unknown } } } | undefined;
  const tag = version?.container_metadata?.tag?.name;
  if (typeof namespace !== "string" || typeof name !== "string" || typeof tag !== "string" || !TAG.test(tag)) return undefined;
  const repository = `${namespace}/${name}`.toLowerCase();
  if (!REPOSITORY.test(repository)) return undefined;
  return `ghcr.io/${repository}:${tag}`;
}

class TooLarge extends Error {}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners("data");
        request.resume();
        reject(new TooLarge(`the envelope is over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    request.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.once("error", reject);
  });
}
