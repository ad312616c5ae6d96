import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { JobQueue } from "../queue/types.js";
import { digestOf, givenSecret, reply, secretMatches } from "../app/sweep-endpoint.js";

export const METRICS_PATH = "/metrics";

/**
 * digesta's Prometheus metrics (docs/github-app.md lists them). One registry per app, not prom-client's global
 * one, so two apps in one process (tests) count apart.
 */
export interface Metrics {
  readonly registry: Registry;
  /** A run ended: its trigger, how (`done`, `config-error`, `empty`, `disabled`, `failed`), and how long it took. */
  run(trigger: string, outcome: string, seconds: number): void;
  registryRequest(host: string, status: number): void;
  githubRequest(method: string, status: number, rateLimited: boolean): void;
  cacheLookup(kind: string, hit: boolean): void;
  /** The queue whose depth the gauges report. */
  watch(queue: JobQueue): void;
}

/** Triggers as labels: the reason's first word (`installation.created` → `installation`), from a closed set. */
const TRIGGERS = new Set(["installation", "repositories", "push", "schedule", "sweep", "command", "registry"]);

export function triggerLabel(reason: string): string {
  const word = reason.split(/[ .]/)[0] ?? "";
  return TRIGGERS.has(word) ? word : "other";
}

function statusClass(status: number): string {
  return status === 0 ? "network-error" : `${Math.floor(status / 100)}xx`;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  let queue: JobQueue | undefined;
  const runs = new Counter({ name: "digesta_runs_total", help: "Repository runs ended, by trigger and outcome.", labelNames: ["trigger", "outcome"], registers: [registry] });
  const duration = new Histogram({
    name: "digesta_run_duration_seconds",
    help: "How long repository runs took, by trigger.",
    labelNames: ["trigger"],
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900],
    registers: [registry],
  });
  new Gauge({
    name: "digesta_queue_jobs",
    help: "Jobs in the queue (the whole fleet's on Redis), by state: waiting, active, delayed (waiting for a retry).",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const depth = await queue?.depth().catch(() => undefined);
      if (!depth) return;
      this.set({ state: "waiting" }, depth.waiting);
      this.set({ state: "active" }, depth.active);
      this.set({ state: "delayed" }, depth.delayed);
    },
  });
  new Gauge({
    name: "digesta_queue_oldest_waiting_seconds",
    help: "Age of the oldest job waiting to run.",
    registers: [registry],
    async collect() {
      const depth = await queue?.depth().catch(() => undefined);
      if (depth) this.set(depth.oldestWaitingMs / 1000);
    },
  });
  const registryRequests = new Counter({
    name: "digesta_registry_requests_total",
    help: "HTTP requests to registries (token services included), by registry host and status class.",
    labelNames: ["registry", "status"],
    registers: [registry],
  });
  const registryFailures = new Counter({
    name: "digesta_registry_failures_total",
    help: "Registry requests that failed: network errors, 429 and 5xx answers, by registry host.",
    labelNames: ["registry"],
    registers: [registry],
  });
  const githubRequests = new Counter({ name: "digesta_github_requests_total", help: "GitHub API requests, by method and status class.", labelNames: ["method", "status"], registers: [registry] });
  const rateLimited = new Counter({
    name: "digesta_github_rate_limited_total",
    help: "GitHub answers saying a rate limit was hit (each makes the client wait before asking again).",
    registers: [registry],
  });
  const cache = new Counter({
    name: "digesta_cache_lookups_total",
    help: "Shared cache lookups, by kind (tag, head, manifest, blob, history, diff, built) and result (hit, miss).",
    labelNames: ["kind", "result"],
    registers: [registry],
  });
  return {
    registry,
    run(trigger, outcome, seconds) {
      const label = triggerLabel(trigger);
      runs.inc({ trigger: label, outcome });
      duration.observe({ trigger: label }, seconds);
    },
    registryRequest(host, status) {
      registryRequests.inc({ registry: host, status: statusClass(status) });
      if (status === 0 || status === 429 || status >= 500) registryFailures.inc({ registry: host });
    },
    githubRequest(method, status, limited) {
      githubRequests.inc({ method, status: statusClass(status) });
      if (limited) rateLimited.inc();
    },
    cacheLookup(kind, hit) {
      cache.inc({ kind, result: hit ? "hit" : "miss" });
    },
    watch(watched) {
      queue = watched;
    },
  };
}

/** `GET /metrics`, in Prometheus's text format; with a secret (`DIGESTA_METRICS_SECRET`) only for its bearer. */
export function createMetricsHandler(metrics: Metrics, secret: string | undefined) {
  const expected = secret ? digestOf(secret) : undefined;
  return async (request: IncomingMessage, response: ServerResponse): Promise<boolean> => {
    const url = new URL(request.url ?? "/", "http://digesta.invalid");
    if (url.pathname !== METRICS_PATH) return false;
    request.resume();
    if (request.method !== "GET" && request.method !== "HEAD") {
      reply(response, 405, { error: "use GET" }, { allow: "GET" });
      return true;
    }
    if (expected && !secretMatches(givenSecret(request), expected)) {
      reply(response, 401, { error: "wrong or missing secret" }, { "www-authenticate": "Bearer" });
      return true;
    }
    const text = await metrics.registry.metrics();
    response.writeHead(200, { "content-type": metrics.registry.contentType }).end(request.method === "HEAD" ? undefined : text);
    return true;
  };
}
