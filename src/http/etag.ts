import { createHash } from "node:crypto";

/** A strong ETag from the body bytes. */
export function strongEtag(body: Buffer): string {
  return `"${createHash("sha1").update(body).digest("base64url")}"`;
}

/**
 * True when an If-None-Match value matches `etag` (weak comparison, as RFC 9110 asks for
 * If-None-Match). Garbage in the header matches nothing.
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
