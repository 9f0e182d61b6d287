/**
 * The types every layer shares: the request callbacks see, the response a backend stores, and what
 * a backend is handed and hands back. Nothing here imports from the rest of the package.
 */

/**
 * The framework-neutral view of a request that `keyFunc`, `prefix`, `onlyIf` and tag callables
 * receive. It has the same shape on Express and Koa.
 *
 * @example
 * keyFunc: (req: CacheRequest) => `${req.host}${req.path}:${req.query.page ?? 1}`
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
  /**
   * The lower-case `host[:port]` the client asked for: the `Host` header, or `X-Forwarded-Host`
   * only when the app trusts proxies (Express `app.set("trust proxy", ...)`, Koa `app.proxy`).
   */
  host: string;
  /**
   * The current user: what routing-controllers' `currentUserChecker` returns for this request
   * (the value `@CurrentUser()` gets) when the app configures one, else `req.user` (Express) /
   * `ctx.state.user` (Koa).
   */
  user?: unknown;
  /** The native request: Express `req`, Koa `ctx`. */
  raw: unknown;
}

/** A whole HTTP response as the client got it. */
export interface CachedResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** A tag of an entry, as the backend needs to know it. */
export interface TagRef {
  name: string;
  /** Versioned tags are invalidated by a version bump and are not indexed. */
  versioned: boolean;
  /** Lifetime of the tag's version key, seconds. */
  versionTimeout: number;
}

/** What `set` receives. */
export interface CacheEntry {
  /** The storage key (prefix, variant and `keyFunc` result). */
  key: string;
  response: CachedResponse;
  /** Seconds. */
  timeout: number;
  /** Every tag name of the entry (plain and versioned): what a CDN gets as surrogate keys. */
  surrogateKeys: string[];
  /** Free-form data stored with the entry and handed back by `lookup`. */
  metadata: Record<string, unknown>;
  /** The tags with their kind; when absent every surrogate key is a plain tag. */
  tags?: TagRef[];
  /** What `lookup` returned as `token` for this request: lets the backend refuse an entry whose tags were invalidated while it was computed. */
  token?: unknown;
}

/** What `lookup` returns. */
export interface LookupResult {
  response?: CachedResponse;
  metadata?: Record<string, unknown>;
  /** Opaque; handed back in `CacheEntry.token` when the miss is stored. */
  token?: unknown;
  /**
   * Set when the entry was invalidated softly (`invalidateTag(t, { mode: "stale" })`) at this time
   * (ms since the epoch): it may be served STALE within `staleWhileRevalidate` while one refresh
   * runs, never as a fresh hit.
   */
  staleSince?: number;
}
