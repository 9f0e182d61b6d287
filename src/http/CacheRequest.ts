/**
 * The framework-neutral view of a request that `keyFunc`, `prefix`, `onlyIf` and tag callables
 * receive. It has the same shape on Express and Koa.
 *
 * @example
 * keyFunc: (req: CacheRequest) => `${req.path}:${req.query.page ?? 1}`
 */
export interface CacheRequest {
  /** Upper case, e.g. `GET`. */
  method: string;
  /** The path, without the query string. */
  path: string;
  /** Path and query string as received. */
  url: string;
  /** Query parameters; a repeated parameter gives an array of its values in order. */
  query: Record<string, string | string[]>;
  /** Route parameters (`:id`). */
  params: Record<string, string>;
  /** Request headers, lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  /** `req.user` on Express, `ctx.state.user` on Koa. */
  user?: unknown;
  /** The native request: Express `req`, Koa `ctx`. */
  raw: unknown;
}

/**
 * Builds the CacheRequest the same way for every driver: path and query from the URL as received
 * (repeated names give arrays in order, `+` is a space), and links the native objects that
 * `doNotCache(cacheRequest)` must mark.
 */
export function buildCacheRequest(
  native: { method: string; url: string; params?: Record<string, string>; headers: CacheRequest["headers"]; user?: unknown; raw: unknown },
  marks: object[],
): CacheRequest {
  const { url } = native;
  const q = url.indexOf("?");
  const request: CacheRequest = {
    method: native.method.toUpperCase(),
    path: q < 0 ? url : url.slice(0, q),
    url,
    query: parseQuery(q < 0 ? "" : url.slice(q + 1)),
    params: native.params ?? {},
    headers: native.headers,
    user: native.user,
    raw: native.raw,
    // A symbol key: invisible to Object.keys and JSON, and far cheaper than a WeakMap entry or
    // defineProperty on a path every request takes.
    [NATIVE]: marks,
  } as CacheRequest;
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
 * action (in a middleware) and inside it. Accepts a {@link CacheRequest}, an Express `req`, a Koa
 * `ctx` or `ctx.request`.
 *
 * @example
 * @Get("/preview") @CachePage({ timeout: 60, keyFunc: (r) => r.url })
 * preview(@Req() req: Request) { if (req.query.draft) doNotCache(req); ... }
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
