import { BaseCacheBackend } from "../backends/base";
import { CachePageOptionsError } from "../config/errors";
import type { CachedResponse, CacheRequest } from "../model";
import { MAX_TIMEOUT_SECONDS } from "../engine/settings";
import type { TagSpec } from "../tags/resolveTags";
import { Versioned } from "../tags/versioned";

/** Options of {@link CachePage}. */
export interface CachePageOptions {
  /**
   * Whole seconds to keep the response (at most 31,536,000), or a function of the response
   * returning them; `<= 0` means "do not store". The response's own `s-maxage` / `max-age` /
   * `Expires`, when shorter, wins.
   */
  timeout: number | ((response: CachedResponse) => number);
  /** What makes an entry unique. */
  keyFunc: (req: CacheRequest) => string;
  /** Tags (surrogate keys) for invalidation. */
  tags?: TagSpec[];
  /** Namespaces keys (e.g. per tenant). */
  prefix?: string | ((req: CacheRequest) => string);
  /** A configured backend's name or a backend instance (default: the configured default). */
  backend?: string | BaseCacheBackend;
  /** Cache only when it returns true. */
  onlyIf?: (req: CacheRequest) => boolean;
  /** Cacheable statuses (default `[200]`). */
  statuses?: number[];
  /** Store responses to requests carrying `Authorization` (default false): set it when the key varies by user. */
  cacheAuthorized?: boolean;
  /** Seconds after `timeout` during which the stale entry is served at once (`X-Cache: STALE`) while one background refresh runs (RFC 5861). */
  staleWhileRevalidate?: number;
  /** Seconds after `timeout` during which the stale entry is served instead of an error (thrown, 500, 502, 503, 504). */
  staleIfError?: number;
  /** Stampede protection across processes (stores with locks, e.g. Redis): `ttl` ms a lock lives at most, `wait` ms others wait for it. */
  lock?: { ttl: number; wait: number };
}

const KNOWN = new Set([
  "timeout",
  "keyFunc",
  "tags",
  "prefix",
  "backend",
  "onlyIf",
  "statuses",
  "cacheAuthorized",
  "staleWhileRevalidate",
  "staleIfError",
  "lock",
]);

/** The options after validation. */
export interface ValidatedOptions {
  timeout: CachePageOptions["timeout"];
  keyFunc: CachePageOptions["keyFunc"];
  tags: TagSpec[];
  prefix?: CachePageOptions["prefix"];
  backend?: CachePageOptions["backend"];
  onlyIf?: CachePageOptions["onlyIf"];
  statuses: ReadonlySet<number>;
  cacheAuthorized: boolean;
  staleWhileRevalidate: number;
  staleIfError: number;
  lock?: { ttl: number; wait: number };
}

/** Checks `@CachePage` options at start-up; the error says what to change. */
export function validateCachePageOptions(options: unknown, where: string): ValidatedOptions {
  const fail = (message: string): never => {
    throw new CachePageOptionsError(`@CachePage on ${where}: ${message}`);
  };
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    fail(`expects an options object like { timeout: 60, keyFunc: (req) => req.url } (got ${show(options)})`);
  }
  const o = options as Record<string, unknown>;
  for (const name of Object.keys(o)) {
    if (!KNOWN.has(name)) fail(`unknown option "${name}"; the options are ${[...KNOWN].join(", ")}`);
  }
  if (o.timeout === undefined) fail(`"timeout" is required: a number of seconds or a function of the response returning one`);
  if (typeof o.timeout !== "function" && (typeof o.timeout !== "number" || !Number.isInteger(o.timeout) || o.timeout > MAX_TIMEOUT_SECONDS)) {
    fail(`"timeout" must be a whole number of seconds up to ${MAX_TIMEOUT_SECONDS} (one year), or a function returning one (got ${show(o.timeout)})`);
  }
  if (o.keyFunc === undefined) fail(`"keyFunc" is required: a function of the request returning the cache key, e.g. (req) => req.url, or generateCacheKey`);
  if (typeof o.keyFunc !== "function") fail(`"keyFunc" must be a function of the request returning a string (got ${show(o.keyFunc)})`);
  const tags = validateTagSpecs(o.tags ?? [], `@CachePage on ${where}: "tags"`);
  if (o.prefix !== undefined && typeof o.prefix !== "string" && typeof o.prefix !== "function") {
    fail(`"prefix" must be a string or a function of the request returning one (got ${show(o.prefix)})`);
  }
  if (o.backend !== undefined && typeof o.backend !== "string" && !(o.backend instanceof BaseCacheBackend)) {
    fail(`"backend" must be the name of a configured backend or a BaseCacheBackend instance (got ${show(o.backend)})`);
  }
  if (o.onlyIf !== undefined && typeof o.onlyIf !== "function") fail(`"onlyIf" must be a function of the request returning a boolean (got ${show(o.onlyIf)})`);
  let statuses: ReadonlySet<number> = new Set([200]);
  if (o.statuses !== undefined) {
    if (!Array.isArray(o.statuses) || o.statuses.length === 0 || !o.statuses.every((s) => Number.isInteger(s) && s >= 100 && s <= 599)) {
      fail(`"statuses" must be a non-empty array of HTTP status codes like [200, 404] (got ${show(o.statuses)})`);
    }
    if ((o.statuses as number[]).includes(206)) {
      fail(`"statuses" must not hold 206: a partial response answers one Range request and is never stored; remove it`);
    }
    statuses = new Set(o.statuses as number[]);
  }
  if (o.cacheAuthorized !== undefined && typeof o.cacheAuthorized !== "boolean")
    fail(`"cacheAuthorized" must be true or false (got ${show(o.cacheAuthorized)})`);
  for (const name of ["staleWhileRevalidate", "staleIfError"]) {
    const v = o[name];
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v < 0)) fail(`"${name}" must be a number of seconds >= 0 (got ${show(v)})`);
  }
  if (o.lock !== undefined) {
    const lock = o.lock as Record<string, unknown> | null;
    const ok = (n: unknown) => typeof n === "number" && Number.isInteger(n) && n > 0;
    if (!lock || typeof lock !== "object" || !ok(lock.ttl) || !ok(lock.wait) || Object.keys(lock).some((k) => k !== "ttl" && k !== "wait")) {
      fail(`"lock" must be { ttl: milliseconds, wait: milliseconds }, both positive whole numbers (got ${show(o.lock)})`);
    }
  }
  return {
    timeout: o.timeout as ValidatedOptions["timeout"],
    keyFunc: o.keyFunc as ValidatedOptions["keyFunc"],
    tags,
    prefix: o.prefix as ValidatedOptions["prefix"],
    backend: o.backend as ValidatedOptions["backend"],
    onlyIf: o.onlyIf as ValidatedOptions["onlyIf"],
    statuses,
    cacheAuthorized: o.cacheAuthorized === true,
    staleWhileRevalidate: (o.staleWhileRevalidate as number | undefined) ?? 0,
    staleIfError: (o.staleIfError as number | undefined) ?? 0,
    lock: o.lock as ValidatedOptions["lock"],
  };
}

/** Checks a list of tag specs; `origin` starts the message. */
export function validateTagSpecs(tags: unknown, origin: string): TagSpec[] {
  if (!Array.isArray(tags)) throw new CachePageOptionsError(`${origin} must be an array of tags (got ${show(tags)})`);
  tags.forEach((tag, i) => {
    if (typeof tag !== "string" && typeof tag !== "function" && !(tag instanceof Versioned)) {
      throw new CachePageOptionsError(`${origin}[${i}] must be a string, versioned(...) or a function of the request (got ${show(tag)})`);
    }
  });
  return tags as TagSpec[];
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name && value.constructor !== Object ? `a ${value.constructor.name}` : "an object";
  return String(value);
}
