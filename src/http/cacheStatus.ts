import { headerText, type HeaderBag } from "./headers";

/** The cache's name in `Cache-Status` (RFC 9211). */
export const CACHE_STATUS_NAME = "custom-cache-page";

/** What the cache did with a request, as `Cache-Status` tells it. */
export type CacheStatusOutcome =
  | { kind: "hit"; ttl: number }
  | { kind: "stale"; ttl: number }
  /** `revalidated`: the action answered the cache's conditional request with 304 (`fwd=stale; fwd-status=304`). */
  | { kind: "miss"; stored: boolean; detail?: string; revalidated?: boolean }
  | { kind: "bypass"; detail?: string };

/** Our member of `Cache-Status`, e.g. `custom-cache-page; hit; ttl=42`. */
export function cacheStatusMember(outcome: CacheStatusOutcome): string {
  switch (outcome.kind) {
    case "hit":
      return `${CACHE_STATUS_NAME}; hit; ttl=${Math.floor(outcome.ttl)}`;
    case "stale":
      return `${CACHE_STATUS_NAME}; fwd=stale; ttl=${Math.floor(outcome.ttl)}`;
    case "miss":
      return `${CACHE_STATUS_NAME}; ${outcome.revalidated ? "fwd=stale; fwd-status=304" : "fwd=uri-miss"}${outcome.stored ? "; stored" : ""}${detail(outcome.detail)}`;
    case "bypass":
      return `${CACHE_STATUS_NAME}; fwd=bypass${detail(outcome.detail)}`;
  }
}

function detail(text: string | undefined): string {
  if (!text) return "";
  // An sf-string: printable ASCII, with quotes and backslashes escaped.
  const safe = text.replace(/[^\x20-\x7e]/g, "?").replace(/["\\]/g, "\\$&");
  return `; detail="${safe}"`;
}

/** `Cache-Status` with our member after any the response already had (RFC 9211: the last cache adds last). */
export function withCacheStatus(existing: HeaderBag[string], member: string): string {
  const before = headerText(existing);
  return before === undefined || before.trim() === "" ? member : `${before}, ${member}`;
}
