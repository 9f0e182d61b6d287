import type { CacheRequest } from "../model";

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * One query-string component (name or value) in a canonical form: `+` is a space, valid percent
 * escapes are decoded to their bytes, and every byte but the unreserved ones is written back as an
 * upper-case `%XX`. Two components give the same form exactly when they stand for the same bytes,
 * so `%FF`, `%FE` and `%EF%BF%BD` stay three values (URLSearchParams turns all three into U+FFFD).
 */
function canonicalComponent(raw: string): string {
  const bytes = Buffer.from(raw.replace(/\+/g, " "), "utf8");
  let out = "";
  for (let i = 0; i < bytes.length; i += 1) {
    const b = bytes[i]!;
    if (b === 0x25 && i + 2 < bytes.length && isHex(bytes[i + 1]!) && isHex(bytes[i + 2]!)) {
      const decoded = parseInt(String.fromCharCode(bytes[i + 1]!, bytes[i + 2]!), 16);
      out += encodeByte(decoded);
      i += 2;
    } else {
      out += encodeByte(b);
    }
  }
  return out;
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function encodeByte(b: number): string {
  const ch = String.fromCharCode(b);
  return b < 0x80 && UNRESERVED.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
}

/**
 * The query string of a request in a canonical form: parameters sorted by name (the values of a
 * repeated parameter keep their order), names and values in {@link canonicalComponent} form, so
 * `&` and `=` inside them cannot be confused with separators and no two different byte strings
 * share a form.
 */
export function canonicalQuery(req: Pick<CacheRequest, "url">): string {
  const q = req.url.indexOf("?");
  if (q < 0) return "";
  const pairs: Array<[string, string]> = [];
  for (const part of req.url.slice(q + 1).split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    pairs.push(eq < 0 ? [canonicalComponent(part), ""] : [canonicalComponent(part.slice(0, eq)), canonicalComponent(part.slice(eq + 1))]);
  }
  // A stable sort by name only: repeated parameters keep the order they came in.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join("&");
}

/**
 * A key from the host, the path and the query parameters. Injective: two different hosts, paths
 * or query strings never give the same key (`/my-path` and `/mypath` stay apart, and so do
 * `?q=%FF` and `?q=%FE`); the order of parameters does not matter and repeated parameters keep
 * all their values.
 *
 * @example
 * @CachePage({ timeout: 60, keyFunc: generateCacheKey })  // "shop.example/products?cat=shoes&page=2"
 */
export function generateCacheKey(req: CacheRequest): string {
  // A host never holds "/", and a path as received always starts with one: the first "/" ends the host.
  return `${req.host ?? ""}${req.path}?${canonicalQuery(req)}`;
}

/**
 * A key from the query parameters alone (same canonical form as {@link generateCacheKey}).
 *
 * @example
 * @CachePage({ timeout: 60, keyFunc: generateQueryParamsCacheKey, prefix: "search" }) // "?q=shoes"
 */
export function generateQueryParamsCacheKey(req: CacheRequest): string {
  return `?${canonicalQuery(req)}`;
}
