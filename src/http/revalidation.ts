import { headerText, HOP_BY_HOP, type HeaderBag } from "./headers";

/** The validators an action sent with its response: what a stale copy can be revalidated with. */
export interface Validators {
  etag?: string;
  lastModified?: string;
}

/** Request headers that make a request conditional or partial: the client's own, never replaced. */
const CLIENT_CONDITIONS = ["if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range"];

/**
 * The validators of a response as the action sent it (`ETag`, `Last-Modified`), or undefined when
 * it has none: then a stale copy cannot be revalidated, only computed again.
 *
 * @example
 * validatorsOf({ etag: 'W/"5-abc"' }); // { etag: 'W/"5-abc"' }
 */
export function validatorsOf(headers: HeaderBag): Validators | undefined {
  const etag = headerText(headers.etag)?.trim();
  const lastModified = headerText(headers["last-modified"])?.trim();
  if (!etag && !lastModified) return undefined;
  return { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
}

/**
 * The request headers that turn a request for a stale entry into a conditional one (RFC 9111
 * §4.3.1): `If-None-Match` with the stored `ETag`, `If-Modified-Since` with the stored
 * `Last-Modified`. Undefined when the client's request is conditional or partial itself (its own
 * conditions reach the action untouched) or when there is nothing to validate with.
 *
 * @example
 * conditionalRequestHeaders({ etag: '"v1"' }, { accept: "text/html" }); // { "if-none-match": '"v1"' }
 * conditionalRequestHeaders({ etag: '"v1"' }, { "if-none-match": '"v0"' }); // undefined
 */
export function conditionalRequestHeaders(validators: Validators | undefined, requestHeaders: HeaderBag): Record<string, string> | undefined {
  if (!validators) return undefined;
  for (const name of CLIENT_CONDITIONS) if (requestHeaders[name] !== undefined) return undefined;
  const headers: Record<string, string> = {};
  if (validators.etag) headers["if-none-match"] = validators.etag;
  if (validators.lastModified) headers["if-modified-since"] = validators.lastModified;
  return headers;
}

/** Headers a 304 never updates on the stored response: they describe the stored body, or one hop. */
const NOT_UPDATED = new Set(["content-length", "content-encoding", "content-range", ...HOP_BY_HOP]);

/**
 * The stored response's headers freshened by a `304 Not Modified` (RFC 9111 §3.2, §4.3.4): every
 * header the 304 carries replaces the stored one of that name, the others stay as stored, except
 * those that describe the stored bytes (`Content-Length`, `Content-Encoding`, `Content-Range`) and
 * hop-by-hop ones, which the 304 never changes. The stored `Date` goes when the 304 has none: the
 * response counts as received now.
 *
 * @example
 * freshenedHeaders({ "x-a": "1", "cache-control": "max-age=2" }, { "cache-control": "max-age=60" });
 * // { "x-a": "1", "cache-control": "max-age=60" }
 */
export function freshenedHeaders(stored: Readonly<Record<string, string | string[]>>, notModified: HeaderBag): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { ...stored };
  // The response is received again now: a 304 without a Date leaves the date to the receiver.
  if (notModified.date === undefined) delete headers.date;
  for (const [name, value] of Object.entries(notModified)) {
    if (value === undefined || NOT_UPDATED.has(name)) continue;
    headers[name] = typeof value === "number" ? String(value) : value;
  }
  return headers;
}
