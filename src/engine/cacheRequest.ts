import type { CacheRequest } from "../model";

export type { CacheRequest };

/**
 * Thrown by `CacheRequest.user` when a callback reads the user before routing-controllers'
 * `currentUserChecker` was asked: the engine resolves the user and runs the callbacks again.
 */
export class UserNotResolved extends Error {
  constructor() {
    super("CacheRequest.user was read before the current user was resolved");
  }
}

/** How a CacheRequest gets its user. */
export type UserSource =
  /** Resolved: this value (also `undefined` for "nobody"). */
  | { resolved: true; user: unknown }
  /** Not resolved yet: reading `user` throws {@link UserNotResolved}. */
  | { resolved: false };

/** What a driver knows of a request, framework-neutral. */
export interface NativeRequestView {
  method: string;
  url: string;
  params?: Record<string, string>;
  headers: CacheRequest["headers"];
  host: string;
  raw: unknown;
}

/**
 * Builds the CacheRequest the same way for every driver: path and query from the URL as received
 * (repeated names give arrays in order, `+` is a space), the host lower-cased, the user from
 * `source`, and links the native objects that `doNotCache(cacheRequest)` must mark.
 */
export function buildCacheRequest(native: NativeRequestView, source: UserSource, marks: object[]): CacheRequest {
  const { url } = native;
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const query = parseQuery(q < 0 ? "" : url.slice(q + 1));
  // A plain object with a data property for the user: an object literal with accessors costs V8
  // over a microsecond to build, ten times the rest of the request, on the path every hit takes.
  const request: CacheRequest = {
    method: native.method.toUpperCase(),
    path,
    url,
    query,
    params: native.params ?? {},
    headers: native.headers,
    host: native.host.toLowerCase(),
    user: source.resolved ? source.user : undefined,
    raw: native.raw,
  };
  if (!source.resolved) {
    // Not resolved yet: reading the user asks for it (the engine resolves it and decides again).
    let user: UserSource = source;
    Object.defineProperty(request, "user", {
      enumerable: true,
      configurable: true,
      get(): unknown {
        if (!user.resolved) throw new UserNotResolved();
        return user.user;
      },
      set(value: unknown) {
        user = { resolved: true, user: value };
      },
    });
  }
  // A symbol key: invisible to Object.keys and JSON, and far cheaper than a WeakMap entry or
  // defineProperty on a path every request takes. Assigned after the literal: a computed key
  // inside one makes V8 define every later property one by one.
  (request as { [NATIVE]?: object[] })[NATIVE] = marks;
  return request;
}

/**
 * Query parameters from the raw query string: repeated names give arrays in order, `+` is a
 * space, malformed percent-escapes are kept as they are.
 */
export function parseQuery(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null);
  if (search === "") return query;
  for (const [name, value] of new URLSearchParams(search)) {
    const existing = query[name];
    if (existing === undefined) query[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else query[name] = [existing, value];
  }
  return query;
}

/** The flag name on native requests (`req.doNotCache = true`), kept for parity with the Python original. */
export const DO_NOT_CACHE = "doNotCache";

/** Where a CacheRequest keeps the native objects `doNotCache(cacheRequest)` marks. */
const NATIVE = Symbol("custom-cache-page.native-targets");

/**
 * Marks this request's response as neither stored nor served from the cache. Works before the
 * action (a middleware, or a `keyFunc` / `onlyIf` / tag callable) and inside it; inside the
 * action the lookup has already happened, so only storing is prevented there. Accepts a
 * {@link CacheRequest}, an Express `req`, a Koa `ctx` or `ctx.request`.
 *
 * @example
 * @Get("/report")
 * @CachePage({ timeout: 60, keyFunc: generateCacheKey })
 * report(@Req() req: Request) {
 *   const report = this.reports.build();
 *   if (report.partial) doNotCache(req); // served, never stored
 *   return report;
 * }
 */
export function doNotCache(target: CacheRequest | object): void {
  const targets = (target as { [NATIVE]?: object[] })[NATIVE];
  if (targets) {
    for (const t of targets) (t as Record<string, unknown>)[DO_NOT_CACHE] = true;
  }
  (target as Record<string, unknown>)[DO_NOT_CACHE] = true;
}

/** True when any of the objects carries the bypass flag. */
export function isMarkedDoNotCache(...targets: unknown[]): boolean {
  for (const t of targets) {
    if (t && typeof t === "object" && (t as Record<string, unknown>)[DO_NOT_CACHE] === true) return true;
  }
  return false;
}
