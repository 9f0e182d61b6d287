/**
 * Where the cache reports problems it recovered from (a throwing `keyFunc`, a failing store).
 * The cache never fails a request because of them; it tells this logger instead.
 *
 * @example
 * import { setCacheLogger } from "custom-cache-page";
 * setCacheLogger({ warn: (msg, err) => pino.warn({ err }, msg), error: (msg, err) => pino.error({ err }, msg) });
 */
export interface CacheLogger {
  warn(message: string, error?: unknown): void;
  error(message: string, error?: unknown): void;
}

/** The default logger: `console`, prefixed so the messages are easy to find. */
export const consoleLogger: CacheLogger = {
  warn: (message, error) => console.warn(`[custom-cache-page] ${message}`, ...(error === undefined ? [] : [error])),
  error: (message, error) => console.error(`[custom-cache-page] ${message}`, ...(error === undefined ? [] : [error])),
};

/** A logger that drops everything (useful in tests). */
export const silentLogger: CacheLogger = { warn: () => undefined, error: () => undefined };

let current: CacheLogger = consoleLogger;

/**
 * Replaces the logger the cache reports to. Returns the previous one.
 *
 * @example
 * setCacheLogger(silentLogger);
 */
export function setCacheLogger(logger: CacheLogger): CacheLogger {
  const previous = current;
  current = logger;
  return previous;
}

const lastReported = new Map<string, number>();
const REPORT_INTERVAL_MS = 10_000;

/**
 * Reports a recovered problem at most once per 10 seconds per `topic`, so a broken store or a
 * throwing `keyFunc` under load does not flood the logs. Returns true when it was logged.
 */
export function reportProblem(topic: string, message: string, error?: unknown, level: "warn" | "error" = "warn"): boolean {
  const now = Date.now();
  const last = lastReported.get(topic);
  if (last !== undefined && now - last < REPORT_INTERVAL_MS) return false;
  if (lastReported.size > 1000) lastReported.clear();
  lastReported.set(topic, now);
  current[level](message, error);
  return true;
}

/** Forgets what was reported (tests use it to see every report). */
export function resetProblemReports(): void {
  lastReported.clear();
}
