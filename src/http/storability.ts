import { responseDirectives } from "./cacheControl";
import type { HeaderBag } from "./headers";
import { isVaryStar } from "./vary";

/** Why a response is not stored (a short reason a person reads), or undefined when it may be. */
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
  if (input.status === 206) return "a 206 holds part of a resource; it is never stored";
  if (!input.statuses.has(input.status)) return `status ${input.status} is not in statuses`;
  const h = input.headers;
  const why = whyHeadersForbidStoring(h);
  if (why !== undefined) return why;
  if (input.requestHasAuthorization && !input.cacheAuthorized && !isSharedCacheable(h)) {
    return "the request carries Authorization and the response is neither public nor s-maxage (set cacheAuthorized: true when the key varies by user)";
  }
  if (!input.bodyKnown) return "the body is streamed with an unknown length";
  if (input.bodySize !== undefined && input.bodySize > input.maxBodySize)
    return `the body (${input.bodySize} bytes) is larger than maxBodySize (${input.maxBodySize})`;
  return undefined;
}

/**
 * Why these response headers forbid a shared cache to store the response: `Set-Cookie`,
 * `Cache-Control` `private` / `no-store` / `no-cache` (or those of a valid `CDN-Cache-Control`,
 * which then replaces it), `Vary: *`. Checked on the headers that
 * actually left, after every middleware that adds headers on the way out.
 */
export function whyHeadersForbidStoring(headers: HeaderBag): string | undefined {
  if (headers["set-cookie"] !== undefined) return "the response sets a cookie";
  const { directives, targeted } = responseDirectives(headers);
  for (const directive of ["private", "no-store", "no-cache"]) {
    if (directives.has(directive)) return `${targeted ? "CDN-Cache-Control" : "Cache-Control"}: ${directive}`;
  }
  if (isVaryStar(headers.vary)) return "Vary: *";
  return undefined;
}

/** True when the response explicitly allows shared caches to store it for authorized requests. */
export function isSharedCacheable(headers: HeaderBag): boolean {
  const cc = responseDirectives(headers).directives;
  return cc.has("public") || cc.has("s-maxage");
}
