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
