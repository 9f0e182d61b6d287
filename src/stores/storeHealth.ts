/**
 * How long one store call may take before the store counts as unreachable, ms, unless configured
 * otherwise (`configureCachePage({ storeTimeoutMs })`, a backend's own `storeTimeoutMs`).
 *
 * @example
 * configureCachePage({ storeTimeoutMs: DEFAULT_STORE_TIMEOUT_MS * 2 });
 */
export const DEFAULT_STORE_TIMEOUT_MS = 300;

/**
 * Error codes and names that say a store is unhealthy: it cannot be reached, the connection was
 * lost, it is overloaded, starting, read-only or out of its cluster. One request's data (a key
 * PostgreSQL refuses, a value too large, a malformed statement) is none of these.
 */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "ESOCKETTIMEDOUT",
  "ERR_SOCKET_CLOSED",
]);
const HEALTH_NAMES = new Set([
  "StoreTimeoutError",
  "ConnectionTimeoutError",
  "ClientClosedError",
  "ClientOfflineError",
  "SocketClosedUnexpectedlyError",
  "ReconnectStrategyError",
  "SocketTimeoutError",
  "TimeoutError",
  "AbortError",
]);
/** Redis replies that mean the server (not the command) is in trouble. */
const REDIS_STATE = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|OOM|NOREPLICAS|MISCONF)\b/;
/** PostgreSQL SQLSTATE classes / codes of connection, resources, operator intervention, system errors. */
const PG_HEALTH = /^(08|53|57|58|XX)/;
/** SQLite result codes of a busy, unreadable or full database file. */
const SQLITE_HEALTH = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|NOMEM|READONLY|CORRUPT|NOTADB|PROTOCOL)/;
const MESSAGES =
  /connection (refused|terminated|lost|closed|reset)|socket (closed|hang up)|the client is closed|timed? ?out|timeout exceeded|not connected|database is locked/i;

/**
 * True when `error` says the store is unhealthy (connection refused or lost, timeouts, an
 * overloaded or read-only server), false when it is about one request's data. The circuit breaker
 * counts only the first kind, so a client cannot switch caching off for everyone with a crafted
 * URL. Looks through `cause` and the errors of an `AggregateError`.
 *
 * @example
 * isStoreHealthFailure(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" })); // true
 * isStoreHealthFailure(Object.assign(new Error("invalid byte sequence for encoding \"UTF8\": 0x00"), { code: "22021" })); // false
 */
export function isStoreHealthFailure(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== "object" || depth > 4) return false;
  const e = error as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  const name = typeof e.name === "string" ? e.name : "";
  const message = typeof e.message === "string" ? e.message : "";
  if (NETWORK_CODES.has(code) || HEALTH_NAMES.has(name)) return true;
  if (/^[0-9A-Z]{5}$/.test(code) && !code.startsWith("SQLIT")) return PG_HEALTH.test(code);
  if (code.startsWith("SQLITE_")) return SQLITE_HEALTH.test(code);
  if (REDIS_STATE.test(message) || MESSAGES.test(message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isStoreHealthFailure(inner, depth + 1))) return true;
  return isStoreHealthFailure(e.cause, depth + 1);
}

/** PostgreSQL SQLSTATE classes of one statement's data: data exception, integrity, syntax/access, program limits. */
const PG_DATA = /^(22|23|42|54)/;
const SQLITE_DATA = /^SQLITE_(TOOBIG|MISMATCH|CONSTRAINT|RANGE)/;
const REDIS_DATA = /^(ERR|WRONGTYPE|NOSCRIPT)\b/;

/**
 * True when `error` is positively about one request's data (a value PostgreSQL refuses, a row too
 * large, a Redis reply error to one command, an entry over the tag limits): the store answered and
 * is healthy. What the circuit breaker never counts, also for backends that do not classify their
 * own errors.
 *
 * @example
 * isStoreDataError(Object.assign(new Error("invalid byte sequence"), { code: "22021" })); // true
 * isStoreDataError(new Error("store down")); // false: unknown, a backend's own failure
 */
export function isStoreDataError(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== "object" || depth > 4) return false;
  const e = error as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  const message = typeof e.message === "string" ? e.message : "";
  if (code === "E_TAG_LIMIT" || e.name === "URIError") return true;
  if (/^[0-9A-Z]{5}$/.test(code)) return PG_DATA.test(code);
  if (code.startsWith("SQLITE_")) return SQLITE_DATA.test(code);
  if (REDIS_DATA.test(message)) return true;
  return isStoreDataError(e.cause, depth + 1);
}
