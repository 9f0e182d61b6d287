import type { HeaderBag } from "./headers";
import { parseDictionary } from "./structuredField";

/**
 * Parses a Cache-Control value into lower-case directive names and their values. Tolerates
 * malformed input (stray commas, quotes, odd spacing): whatever cannot be read is skipped.
 */
export function parseCacheControl(value: string | string[] | number | undefined): Map<string, string | true> {
  const directives = new Map<string, string | true>();
  if (value === undefined) return directives;
  const text = Array.isArray(value) ? value.join(",") : String(value);
  // Split on commas that are not inside a quoted string.
  const parts = text.match(/(?:[^,"]|"(?:[^"\\]|\\.)*"?)+/g) ?? [];
  for (const part of parts) {
    const eq = part.indexOf("=");
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) continue;
    if (eq < 0) {
      if (!directives.has(name)) directives.set(name, true);
      continue;
    }
    let v = part.slice(eq + 1).trim();
    if (v.startsWith('"')) v = v.replace(/^"|"$/g, "").replace(/\\(.)/g, "$1");
    if (!directives.has(name)) directives.set(name, v);
  }
  return directives;
}

/** Serialises directives back into a header value. */
export function formatCacheControl(directives: Map<string, string | true>): string {
  return [...directives]
    .map(([name, v]) => (v === true ? name : /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(v) ? `${name}=${v}` : `${name}="${v.replace(/["\\]/g, "\\$&")}"`))
    .join(", ");
}

/** Largest delta-seconds a cache must handle; larger values count as this (RFC 9111 §1.2.2). */
export const MAX_DELTA_SECONDS = 2147483648;

/** A non-negative whole number of seconds from a directive value (capped at 2^31), else undefined. */
export function deltaSeconds(value: string | true | undefined): number | undefined {
  if (typeof value !== "string" || !/^\d+$/.test(value)) return undefined;
  return Math.min(Number(value), MAX_DELTA_SECONDS);
}

/** The directives this cache follows for a response, and where they came from. */
export interface ResponseDirectives {
  directives: Map<string, string | true>;
  /**
   * True when they come from a valid `CDN-Cache-Control` (RFC 9213): then `Cache-Control` and
   * `Expires` do not apply to this cache; they stay on the response for the caches after it.
   */
  targeted: boolean;
}

/** Directives whose value RFC 9111 defines as delta-seconds: an Integer in a targeted field. */
const SECONDS_DIRECTIVES = new Set(["max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"]);

/**
 * The caching directives of a response for this cache. A page cache answers for the origin the way a
 * CDN does, so it is on the target list of `CDN-Cache-Control` (RFC 9213 §2.1): a valid, non-empty
 * `CDN-Cache-Control` replaces `Cache-Control` and `Expires` for this cache's decisions (storing,
 * lifetime, `private` / `no-store` / `no-cache`, `must-revalidate`). One that is not a valid
 * Dictionary, or gives a delta-seconds directive anything but a non-negative Integer, is ignored:
 * `Cache-Control` decides, as if the field were absent.
 *
 * @example
 * responseDirectives({ "cache-control": "no-store", "cdn-cache-control": "max-age=600" });
 * // { directives: Map { "max-age" => "600" }, targeted: true }
 */
export function responseDirectives(headers: HeaderBag): ResponseDirectives {
  const targeted = headers["cdn-cache-control"];
  if (targeted !== undefined && typeof targeted !== "number") {
    const members = parseDictionary(targeted);
    if (members !== undefined && members.size > 0) {
      const directives = new Map<string, string | true>();
      let valid = true;
      for (const [name, member] of members) {
        if (SECONDS_DIRECTIVES.has(name)) {
          if (member.type !== "integer" || member.value < 0) valid = false;
          else directives.set(name, String(member.value));
        } else if (member.type === "boolean") {
          if (member.value) directives.set(name, true);
        } else {
          directives.set(name, member.type === "list" ? "" : String(member.value));
        }
      }
      if (valid) return { directives, targeted: true };
    }
  }
  return { directives: parseCacheControl(headers["cache-control"]), targeted: false };
}
