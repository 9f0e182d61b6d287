// The `custom-cache-page/prometheus` entry: Prometheus metrics through prom-client (an optional peer).
export { registerCachePageMetrics, type CachePageMetricsOptions } from "./telemetry/prometheus/registerCachePageMetrics";
