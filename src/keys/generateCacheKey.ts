import type { CacheRequest } from "../http/CacheRequest";

/**
 * The query string in a canonical form: parameters sorted by name (values of a repeated
 * parameter keep their order), names and values percent-encoded so that `&` and `=` inside
 * them cannot be confused with separators.
 */
export function canonicalQuery(query: CacheRequest["query"]): string {
  const names = Object.keys(query).sort();
  const parts: string[] = [];
  for (const name of names) {
    const raw = query[name];
    const values = Array.isArray(raw) ? raw : [raw];
    for (const value of values) {
      parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value ?? ""))}`);
    }
  }
  return parts.join("&");
}

/**
 * A key from the path and the query parameters. Injective: two different paths or query strings
 * never give the same key (`/my-path` and `/mypath` stay apart), the order of parameters does not
 * matter and repeated parameters keep all their values.
 *
 * @example
 * @CachePage({ timeout: 60, keyFunc: generateCacheKey })  // "/products?cat=shoes&page=2"
 */
export function generateCacheKey(req: CacheRequest): string {
  return `${req.path}?${canonicalQuery(req.query)}`;
}

/**
 * A key from the query parameters alone (same canonical form as {@link generateCacheKey}).
 *
 * @example
 * @CachePage({ timeout: 60, keyFunc: generateQueryParamsCacheKey, prefix: "search" }) // "?q=shoes"
 */
export function generateQueryParamsCacheKey(req: CacheRequest): string {
  return `?${canonicalQuery(req.query)}`;
}
