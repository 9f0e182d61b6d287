// The `custom-cache-page/opentelemetry` entry: OpenTelemetry metrics and spans through @opentelemetry/api (an optional peer).
export { registerCachePageOpenTelemetry, type CachePageOpenTelemetryOptions } from "./telemetry/opentelemetry/registerCachePageOpenTelemetry";
