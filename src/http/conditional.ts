import { createHash } from "node:crypto";
import { headerText } from "./headers";
import { parseHttpDate } from "./httpDate";

/** Headers a 304 carries (RFC 9110 §15.4.5), besides the cache's own Age and status headers. */
export const NOT_MODIFIED_HEADERS = new Set(["cache-control", "content-location", "date", "etag", "expires", "vary"]);

/** A strong ETag from the body bytes. */
export function strongEtag(body: Buffer): string {
  return `"${createHash("sha1").update(body).digest("base64url")}"`;
}

/**
 * True when an If-None-Match value matches `etag` (weak comparison, as RFC 9110 asks for
 * If-None-Match; lists and `*`). Garbage in the header matches nothing.
 */
export function ifNoneMatchMatches(header: string | string[] | undefined, etag: string | undefined): boolean {
  if (header === undefined || !etag) return false;
  const value = Array.isArray(header) ? header.join(",") : header;
  if (value.trim() === "*") return true;
  const wanted = opaque(etag);
  const tags = value.match(/(?:W\/)?"[^"]*"/g) ?? [];
  return tags.some((t) => opaque(t) === wanted);
}

function opaque(tag: string): string {
  return tag.trim().replace(/^W\//, "");
}

/**
 * True when a stored response answers the request's conditional headers with 304 (RFC 9111
 * §4.3.2): `If-None-Match` matching its ETag; without `If-None-Match`, an `If-Modified-Since` no
 * earlier than its `Last-Modified` (or, without one, its `Date`).
 */
export function answersNotModified(
  requestHeaders: Record<string, string | string[] | undefined>,
  stored: { etag?: string; lastModified?: string | string[]; date?: string | string[] },
): boolean {
  const inm = requestHeaders["if-none-match"];
  if (inm !== undefined) return ifNoneMatchMatches(inm, stored.etag);
  const since = parseHttpDate(headerText(requestHeaders["if-modified-since"]));
  if (since === undefined) return false;
  const modified = parseHttpDate(stored.lastModified) ?? parseHttpDate(stored.date);
  return modified !== undefined && since >= modified;
}
