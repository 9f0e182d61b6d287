import { deltaSeconds, formatCacheControl, parseCacheControl, responseDirectives } from "./cacheControl";
import { headerText, type HeaderBag } from "./headers";
import { formatHttpDate, parseHttpDate } from "./httpDate";

/** What a response says about its own freshness (RFC 9111 §4.2). */
export interface OwnFreshness {
  /**
   * Seconds the response says it is fresh for: `s-maxage`, else `max-age`, else `Expires` minus
   * `Date` (0 for an invalid or past `Expires`, or an unreadable max-age); undefined when it says
   * nothing.
   */
  lifetime: number | undefined;
  /** Its age when it was received, seconds: its own `Age`, or how far its `Date` lies behind. */
  age: number;
  /** `must-revalidate`, `proxy-revalidate` or `s-maxage`: never served once stale. */
  mustRevalidate: boolean;
  /** Read from a valid `CDN-Cache-Control`, which then replaced `Cache-Control` and `Expires`. */
  targeted: boolean;
  /**
   * The response's own stale windows (RFC 5861): seconds after it stops being fresh during which
   * it may be served stale while it is refreshed (`stale-while-revalidate`), or instead of an
   * error (`stale-if-error`). 0 when it gives none, or a value that is not delta-seconds.
   */
  staleWhileRevalidate: number;
  staleIfError: number;
}

/**
 * Reads a response's own freshness; `receivedAt` (ms) stands for `Date` when it has none. A valid
 * `CDN-Cache-Control` speaks for this cache instead of `Cache-Control` and `Expires` (RFC 9213).
 */
export function ownFreshness(headers: HeaderBag, receivedAt: number): OwnFreshness {
  const { directives: cc, targeted } = responseDirectives(headers);
  const date = parseHttpDate(headers.date);
  let lifetime: number | undefined;
  if (cc.has("s-maxage")) lifetime = deltaSeconds(cc.get("s-maxage")) ?? 0;
  else if (cc.has("max-age")) lifetime = deltaSeconds(cc.get("max-age")) ?? 0;
  else if (!targeted && headers.expires !== undefined) {
    const expires = parseHttpDate(headers.expires);
    lifetime = expires === undefined ? 0 : Math.max(0, (expires - (date ?? receivedAt)) / 1000);
  }
  const ageValue = deltaSeconds(headerText(headers.age)?.split(",")[0]?.trim()) ?? 0; // several lines: the first
  const apparentAge = date === undefined ? 0 : Math.max(0, (receivedAt - date) / 1000);
  return {
    lifetime,
    age: Math.max(ageValue, apparentAge),
    mustRevalidate: cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage"),
    targeted,
    staleWhileRevalidate: deltaSeconds(cc.get("stale-while-revalidate")) ?? 0,
    staleIfError: deltaSeconds(cc.get("stale-if-error")) ?? 0,
  };
}

/** Stale windows, seconds after an entry stops being fresh. */
export interface StaleWindows {
  whileRevalidate: number;
  ifError: number;
}

/**
 * The stale windows the response itself asks for, as this cache keeps them: none for a response
 * that must be revalidated (`must-revalidate`, `proxy-revalidate`, `s-maxage`), and never longer
 * than the action's `timeout`, which bounds how long the app lets any page be kept. The action's
 * own `staleWhileRevalidate` / `staleIfError` apply besides (the larger wins).
 */
export function ownStaleWindows(own: OwnFreshness, timeout: number): StaleWindows {
  if (own.mustRevalidate) return { whileRevalidate: 0, ifError: 0 };
  return { whileRevalidate: Math.min(own.staleWhileRevalidate, timeout), ifError: Math.min(own.staleIfError, timeout) };
}

/**
 * How many seconds a stored response stays fresh from when it was received: the smallest of the
 * action's `timeout` and what is left of the response's own lifetime (its lifetime minus its own
 * age). One without a lifetime of its own is sent `max-age=<timeout>`: its age counts against the
 * timeout, so that no hit shows an `Age` past that `max-age`. 0 or less: not stored.
 */
export function freshSeconds(timeout: number, own: OwnFreshness): number {
  if (own.lifetime === undefined) return timeout - own.age;
  return Math.min(timeout, own.lifetime - own.age);
}

/**
 * The freshness headers to add on the way out: like Django's `cache_page`, a response with no
 * freshness of its own gets `Cache-Control: max-age=<timeout>` (its other directives kept, plus
 * the stale windows, RFC 5861) and `Expires`; one that has its own is left as it is, and so is one
 * with a valid `CDN-Cache-Control`: it chose what the caches after this one are told.
 */
export function freshnessHeadersToAdd(
  headers: HeaderBag,
  own: OwnFreshness,
  timeout: number,
  now: number,
  staleWhileRevalidate = 0,
  staleIfError = 0,
): Record<string, string> {
  if (own.lifetime !== undefined || own.targeted) return {};
  const cc = parseCacheControl(headers["cache-control"]);
  cc.set("max-age", String(timeout));
  if (!own.mustRevalidate) {
    if (staleWhileRevalidate > 0 && !cc.has("stale-while-revalidate")) cc.set("stale-while-revalidate", String(staleWhileRevalidate));
    if (staleIfError > 0 && !cc.has("stale-if-error")) cc.set("stale-if-error", String(staleIfError));
  }
  return { "cache-control": formatCacheControl(cc), expires: formatHttpDate(now + timeout * 1000) };
}
