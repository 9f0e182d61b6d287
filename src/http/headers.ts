/** Header values as Node keeps them (`res.getHeaders()`), lower-case names. */
export type HeaderBag = Record<string, string | string[] | number | undefined>;

/** Headers that describe one connection, never a stored response (RFC 9110 §7.6.1). */
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

/** One header's value as text: several values joined with `, ` as on the wire. */
export function headerText(value: HeaderBag[string]): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(", ") : String(value);
}

/** The comma-separated tokens of a header, trimmed and lower-cased, empty ones dropped. */
export function headerTokens(value: HeaderBag[string]): string[] {
  const text = headerText(value);
  if (text === undefined) return [];
  const tokens: string[] = [];
  for (const part of text.split(",")) {
    const token = part.trim().toLowerCase();
    if (token !== "") tokens.push(token);
  }
  return tokens;
}

/**
 * The headers of a response as they may be stored: lower-case names, string values; hop-by-hop
 * headers, the headers its `Connection` names, `Content-Length` (recomputed on replay) and the
 * names in `drop` left out.
 */
export function storableHeaders(headers: HeaderBag, drop: ReadonlySet<string>): Record<string, string | string[]> {
  const connectionNamed = new Set(headerTokens(headers.connection));
  const out: Record<string, string | string[]> = {};
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(name) || connectionNamed.has(name) || name === "content-length" || drop.has(name)) continue;
    out[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

/** True when two header values say the same (arrays compared element by element). */
export function sameHeaderValue(a: HeaderBag[string], b: HeaderBag[string]): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return headerText(a) === headerText(b);
}
