import { metrics, SpanKind, SpanStatusCode, trace, type Attributes, type Meter, type Tracer } from "@opentelemetry/api";
import { listCacheBackends } from "../../config/configure";
import { backendLabel } from "../backendNames";
import { subscribeCachePage } from "../subscribe";

/** Options of {@link registerCachePageOpenTelemetry}; by default the global meter and tracer providers are used. */
export interface CachePageOpenTelemetryOptions {
  meter?: Meter;
  tracer?: Tracer;
  /** Record spans for store calls, invalidations and the action on a miss (default true). */
  spans?: boolean;
}

/**
 * Publishes what the cache does as OpenTelemetry metrics — the same data as the Prometheus entry —
 * and spans for store calls, invalidations and the action on a miss, through `@opentelemetry/api`
 * (an optional peer). Attributes are route templates and backend names, never keys or tags.
 * Returns the function that stops it.
 *
 * Metrics: `cache_page.requests` {route, method, result}, `cache_page.action.duration` (s) {route},
 * `cache_page.store.duration` (s) {backend, operation, outcome}, `cache_page.invalidations` and
 * `cache_page.invalidation.failures` {backend, mode}, `cache_page.purge.failures` {backend},
 * `cache_page.local.bytes` {backend}.
 *
 * @example
 * import { registerCachePageOpenTelemetry } from "custom-cache-page/opentelemetry";
 * // after the OpenTelemetry SDK is started (it sets the global providers):
 * const stop = registerCachePageOpenTelemetry();
 */
export function registerCachePageOpenTelemetry(options: CachePageOpenTelemetryOptions = {}): () => void {
  const meter = options.meter ?? metrics.getMeter("custom-cache-page");
  const tracer = options.tracer ?? trace.getTracer("custom-cache-page");
  const spans = options.spans !== false;
  const requests = meter.createCounter("cache_page.requests", { description: "Requests to cached actions, by what the cache did" });
  const action = meter.createHistogram("cache_page.action.duration", { description: "Duration of the action on a miss", unit: "s" });
  const store = meter.createHistogram("cache_page.store.duration", { description: "Store calls on the request path", unit: "s" });
  const invalidations = meter.createCounter("cache_page.invalidations", { description: "Invalidations, per backend" });
  const invalidationFailures = meter.createCounter("cache_page.invalidation.failures", { description: "Invalidations that failed or timed out" });
  const purgeFailures = meter.createCounter("cache_page.purge.failures", { description: "CDN purge requests that failed after their retries" });
  const tierEvents = meter.createCounter("cache_page.tier.events", {
    description: "Two-tier lease events: lapsed (local tier dropped), connection-lost, revoked (leases of other instances)",
  });
  const localBytes = meter.createObservableGauge("cache_page.local.bytes", { description: "Bytes the cache holds in this process's memory", unit: "By" });
  const observeLocal = (result: { observe(value: number, attributes?: Attributes): void }) => {
    for (const [, backend] of listCacheBackends()) {
      const bytes = backend.localBytes?.();
      if (typeof bytes === "number") result.observe(bytes, { backend: backendLabel(backend) });
    }
  };
  localBytes.addCallback(observeLocal);

  /** A span for something that already happened: `endedAt` ms since the epoch, lasting `durationMs`. */
  const span = (name: string, attributes: Attributes, durationMs: number, error: unknown, endedAt = Date.now()) => {
    if (!spans) return;
    const s = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes, startTime: endedAt - durationMs });
    if (error !== undefined) {
      s.recordException(error instanceof Error ? error : String(error));
      s.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    s.end(endedAt);
  };

  const stop = subscribeCachePage({
    request(e) {
      requests.add(1, { route: e.route, method: e.method, result: e.result });
      if (e.actionMs !== undefined) {
        action.record(e.actionMs / 1000, { route: e.route });
        const startedAt = e.actionStartedAt ?? Date.now() - e.actionMs;
        span("cache_page action", { "cache_page.route": e.route, "http.request.method": e.method }, e.actionMs, undefined, startedAt + e.actionMs);
      }
    },
    store(e) {
      const outcome = e.error === undefined ? "ok" : "error";
      store.record(e.durationMs / 1000, { backend: e.backend, operation: e.operation, outcome });
      span(`cache_page store ${e.operation}`, { "cache_page.backend": e.backend, "cache_page.operation": e.operation }, e.durationMs, e.error);
    },
    invalidate(e) {
      invalidations.add(1, { backend: e.backend, mode: e.mode });
      if (e.error !== undefined) invalidationFailures.add(1, { backend: e.backend, mode: e.mode });
      span(
        "cache_page invalidate",
        { "cache_page.backend": e.backend, "cache_page.mode": e.mode, "cache_page.tags.count": e.tags.length, "cache_page.deleted": e.deleted },
        e.durationMs,
        e.error,
      );
    },
    purge(e) {
      if (e.error !== undefined) purgeFailures.add(1, { backend: e.backend });
    },
    tier(e) {
      tierEvents.add(e.count ?? 1, { backend: e.backend, kind: e.kind });
    },
  });
  return () => {
    stop();
    localBytes.removeCallback(observeLocal);
  };
}
