/** What an object, an array slot or a string costs V8 beyond its payload, roughly. */
const OBJECT_OVERHEAD = 48;
const FIELD_OVERHEAD = 16;

/**
 * A rough byte count of a value kept in process memory: Buffers by length, strings by length,
 * objects and arrays by their fields, to a bounded depth (beyond it a fixed cost). Used to account
 * entries against `maxBytes`; close enough that the bound holds within a small factor.
 *
 * @example
 * approximateSize({ body: Buffer.alloc(1000), headers: { "content-type": "text/html" } }); // about 1,150
 */
export function approximateSize(value: unknown, depth = 0): number {
  if (value === null || value === undefined) return 8;
  if (typeof value === "string") return value.length + FIELD_OVERHEAD;
  if (typeof value !== "object") return 8;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return value.byteLength + OBJECT_OVERHEAD;
  if (depth >= 5) return 256;
  const sized = (value as { bytes?: unknown }).bytes;
  if (value instanceof Map) {
    let total = OBJECT_OVERHEAD;
    for (const [k, v] of value) total += approximateSize(k, depth + 1) + approximateSize(v, depth + 1);
    return total;
  }
  if (typeof sized === "number" && (value as { value?: unknown }).value instanceof Map) return sized;
  let total = OBJECT_OVERHEAD;
  if (Array.isArray(value)) {
    for (const item of value) total += approximateSize(item, depth + 1) + 8;
    return total;
  }
  for (const key in value) total += key.length + FIELD_OVERHEAD + approximateSize((value as Record<string, unknown>)[key], depth + 1);
  return total;
}
