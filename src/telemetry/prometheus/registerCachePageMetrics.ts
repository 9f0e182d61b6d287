import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { listCacheBackends } from "../../config/configure";
import { backendLabel } from "../backendNames";
import { subscribeCachePage } from "../subscribe";

/** Options of {@link registerCachePageMetrics}. */
export interface CachePageMetricsOptions {
  /** Prefix for every metric name (default `cache_page_`). */
  prefix?: string;
  /** Histogram buckets for durations, seconds. */
  buckets?: number[];
}

const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Registers the cache's Prometheus metrics on a prom-client registry and keeps them up to date from
 * the cache's diagnostics channels. Labels are route templates and backend names only — never keys,
 * query strings or tags — so their number stays bounded. Returns the function that stops updating
 * them and removes them from the registry.
 *
 * - `cache_page_requests_total{route,method,result}`: result is hit, miss, stale, bypass or pass
 * - `cache_page_action_duration_seconds{route}`: the action on a miss
 * - `cache_page_store_duration_seconds{backend,operation,outcome}`: store calls on the request path
 * - `cache_page_invalidations_total{backend,mode}` and `cache_page_invalidation_failures_total{backend,mode}`
 * - `cache_page_purge_failures_total{backend}`: CDN purge requests that failed after their retries
 * - `cache_page_local_bytes{backend}`: bytes held in this process's memory
 *
 * @example
 * import { Registry } from "prom-client";
 * import { registerCachePageMetrics } from "custom-cache-page/prometheus";
 * const registry = new Registry();
 * registerCachePageMetrics(registry);
 * app.get("/metrics", async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 */
export function registerCachePageMetrics(registry: Registry, options: CachePageMetricsOptions = {}): () => void {
  const prefix = options.prefix ?? "cache_page_";
  const buckets = options.buckets ?? DEFAULT_BUCKETS;
  const registers = [registry];
  const requests = new Counter({
    name: `${prefix}requests_total`,
    help: "Requests to cached actions, by what the cache did",
    labelNames: ["route", "method", "result"],
    registers,
  });
  const action = new Histogram({
    name: `${prefix}action_duration_seconds`,
    help: "Duration of the action on a miss",
    labelNames: ["route"],
    buckets,
    registers,
  });
  const store = new Histogram({
    name: `${prefix}store_duration_seconds`,
    help: "Store calls on the request path",
    labelNames: ["backend", "operation", "outcome"],
    buckets,
    registers,
  });
  const invalidations = new Counter({ name: `${prefix}invalidations_total`, help: "Invalidations, per backend", labelNames: ["backend", "mode"], registers });
  const invalidationFailures = new Counter({
    name: `${prefix}invalidation_failures_total`,
    help: "Invalidations that failed or timed out, per backend",
    labelNames: ["backend", "mode"],
    registers,
  });
  const purgeFailures = new Counter({
    name: `${prefix}purge_failures_total`,
    help: "CDN purge requests that failed after their retries",
    labelNames: ["backend"],
    registers,
  });
  new Gauge({
    name: `${prefix}local_bytes`,
    help: "Bytes the cache holds in this process's memory",
    labelNames: ["backend"],
    registers,
    collect() {
      this.reset();
      for (const [, backend] of listCacheBackends()) {
        const bytes = backend.localBytes?.();
        if (typeof bytes === "number") this.set({ backend: backendLabel(backend) }, bytes);
      }
    },
  });
  const tierEvents = new Counter({
    name: `${prefix}tier_events_total`,
    help: "Two-tier lease events: lapsed (local tier dropped), connection-lost, revoked (leases of other instances)",
    labelNames: ["backend", "kind"],
    registers,
  });
  new Gauge({
    name: `${prefix}tier_serving`,
    help: "1 while a two-tier backend's lease lets this process serve local hits, else 0",
    labelNames: ["backend"],
    registers,
    collect() {
      this.reset();
      for (const [, backend] of listCacheBackends()) {
        const serving = backend.localTierServing?.();
        if (typeof serving === "boolean") this.set({ backend: backendLabel(backend) }, serving ? 1 : 0);
      }
    },
  });
  const names = [
    "requests_total",
    "action_duration_seconds",
    "store_duration_seconds",
    "invalidations_total",
    "invalidation_failures_total",
    "purge_failures_total",
    "local_bytes",
    "tier_events_total",
    "tier_serving",
  ].map((n) => `${prefix}${n}`);
  const stop = subscribeCachePage({
    request(e) {
      requests.inc({ route: e.route, method: e.method, result: e.result });
      if (e.actionMs !== undefined) action.observe({ route: e.route }, e.actionMs / 1000);
    },
    store(e) {
      store.observe({ backend: e.backend, operation: e.operation, outcome: e.error === undefined ? "ok" : "error" }, e.durationMs / 1000);
    },
    invalidate(e) {
      invalidations.inc({ backend: e.backend, mode: e.mode });
      if (e.error !== undefined) invalidationFailures.inc({ backend: e.backend, mode: e.mode });
    },
    purge(e) {
      if (e.error !== undefined) purgeFailures.inc({ backend: e.backend });
    },
    tier(e) {
      tierEvents.inc({ backend: e.backend, kind: e.kind }, e.count ?? 1);
    },
  });
  return () => {
    stop();
    for (const name of names) registry.removeSingleMetric(name);
  };
}
