import { deltaSeconds, formatCacheControl, parseCacheControl } from "./cacheControl";

/** Header values as Node keeps them (`res.getHeaders()`), lower-case names. */
export type HeaderBag = Record<string, string | string[] | number | undefined>;

/** Headers that describe one connection, never a stored response. */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
]);

/** Headers a 304 carries (RFC 9110 §15.4.5), besides our own Age and cache status. */
export const NOT_MODIFIED_HEADERS = new Set(["cache-control", "content-location", "date", "etag", "expires", "vary"]);

/** Why a response is not stored; undefined when it may be. */
export function whyNotStorable(input: {
  method: string;
  status: number;
  headers: HeaderBag;
  statuses: ReadonlySet<number>;
  requestHasAuthorization: boolean;
  cacheAuthorized: boolean;
  bodyKnown: boolean;
  bodySize: number | undefined;
  maxBodySize: number;
}): string | undefined {
  if (input.method !== "GET") return `${input.method} responses are served from the GET entry, never stored`;
  if (input.status === 304) return "a 304 answers one conditional request; it is never stored";
  if (!input.statuses.has(input.status)) return `status ${input.status} is not in statuses`;
  const h = input.headers;
  if (h["set-cookie"] !== undefined) return "the response sets a cookie";
  const cc = parseCacheControl(h["cache-control"]);
  for (const directive of ["private", "no-store", "no-cache"]) {
    if (cc.has(directive)) return `Cache-Control: ${directive}`;
  }
  if (varyIsStar(h.vary)) return "Vary: *";
  if (input.requestHasAuthorization && !input.cacheAuthorized && !isSharedCacheable(h)) {
    return "the request carries Authorization and the response is neither public nor s-maxage (set cacheAuthorized: true when the key varies by user)";
  }
  if (!input.bodyKnown) return "the body is streamed with an unknown length";
  if (input.bodySize !== undefined && input.bodySize > input.maxBodySize) return `the body (${input.bodySize} bytes) is larger than maxBodySize (${input.maxBodySize})`;
  return undefined;
}

/** True when the response explicitly allows shared caches to store it for authorized requests. */
export function isSharedCacheable(headers: HeaderBag): boolean {
  const cc = parseCacheControl(headers["cache-control"]);
  return cc.has("public") || cc.has("s-maxage");
}

function varyIsStar(vary: HeaderBag[string]): boolean {
  if (vary === undefined) return false;
  const text = Array.isArray(vary) ? vary.join(",") : String(vary);
  return text.split(",").some((v) => v.trim() === "*");
}

/**
 * The freshness headers of a stored response: `Cache-Control` with `max-age` no larger than the
 * entry's lifetime (the action's own smaller value wins, its other directives stay) and `Expires`.
 */
export function freshnessHeaders(
  existingCacheControl: HeaderBag[string],
  timeout: number,
  now: number,
  staleWhileRevalidate = 0,
  staleIfError = 0,
): { "cache-control": string; expires: string; maxAge: number } {
  const cc = parseCacheControl(existingCacheControl);
  const own = deltaSeconds(cc.get("max-age"));
  const maxAge = own === undefined ? timeout : Math.min(own, timeout);
  cc.set("max-age", String(maxAge));
  // RFC 5861: downstream caches may do what we do.
  if (staleWhileRevalidate > 0 && !cc.has("stale-while-revalidate")) cc.set("stale-while-revalidate", String(staleWhileRevalidate));
  if (staleIfError > 0 && !cc.has("stale-if-error")) cc.set("stale-if-error", String(staleIfError));
  return { "cache-control": formatCacheControl(cc), expires: new Date(now + maxAge * 1000).toUTCString(), maxAge };
}

/** Lower-case names, string values; hop-by-hop headers and `content-length` (recomputed on replay) dropped. */
export function storableHeaders(headers: HeaderBag, drop: ReadonlySet<string>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(name) || name === "content-length" || drop.has(name)) continue;
    out[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}
