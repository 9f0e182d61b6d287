import type { CachedResponse } from "./types";

/**
 * The shape an entry has in a Keyv store. `b` is a Buffer in memory, base64 text elsewhere.
 *
 * @example
 * // {"v":1,"status":200,"headers":{"content-type":"text/html"},"b":"PGgxPg==","tags":{"products":1764115200000000},"meta":{}}
 */
export interface StoredEntry {
  v: 1;
  status: number;
  headers: Record<string, string | string[]>;
  b: Buffer | string;
  /** tag name -> version seen when the request started */
  tags: Record<string, number>;
  meta: Record<string, unknown>;
  /** When the entry expires in the store (ms since the epoch): how long a local tier may keep it. */
  x?: number;
}

/**
 * Builds what is written to the store.
 *
 * @example
 * const record = encodeEntry(response, { products: 1764115200000000 }, { storedAt: Date.now() }, false);
 */
export function encodeEntry(
  response: CachedResponse,
  tags: Record<string, number>,
  meta: Record<string, unknown>,
  inMemory: boolean,
  expiresAt?: number,
): StoredEntry {
  const record: StoredEntry = {
    v: 1,
    status: response.status,
    headers: response.headers,
    b: inMemory ? ownedBytes(response.body) : response.body.toString("base64"),
    tags,
    meta,
  };
  if (expiresAt !== undefined) record.x = expiresAt;
  return record;
}

/**
 * The body as a Buffer that owns its memory. A small Buffer is usually a slice of Node's shared
 * 8 KB pool (Buffer.concat, Buffer.from): kept in a memory store it would pin the whole slab, so a
 * 1 KB page could cost 8 KB and the store's byte bound would not hold.
 */
export function ownedBytes(body: Buffer): Buffer {
  if (body.byteOffset === 0 && body.buffer.byteLength === body.length) return body;
  const copy = Buffer.allocUnsafeSlow(body.length);
  body.copy(copy);
  return copy;
}

/**
 * Reads a stored entry; anything not in our format (foreign data, corruption) gives undefined, a miss.
 *
 * @example
 * decodeEntry(encodeEntry(response, {}, {}, false))?.response; // the response
 * decodeEntry("garbage"); // undefined
 */
export function decodeEntry(raw: unknown): DecodedEntry | undefined {
  if (!raw || typeof raw !== "object") return undefined;
  // In memory the store hands out the very object it keeps: decode (and validate) it once, and
  // give every hit the same response object (the http layer caches per response what it derives).
  const known = decoded.get(raw);
  if (known) return known;
  const e = raw as Partial<StoredEntry>;
  if (e.v !== 1 || !Number.isInteger(e.status) || (e.status as number) < 100 || (e.status as number) > 599) return undefined;
  if (!isHeaderRecord(e.headers) || !isVersionRecord(e.tags)) return undefined;
  let body: Buffer;
  if (Buffer.isBuffer(e.b)) body = e.b;
  else if (typeof e.b === "string") body = Buffer.from(e.b, "base64");
  else return undefined;
  const meta = e.meta && typeof e.meta === "object" ? (e.meta as Record<string, unknown>) : {};
  const entry: DecodedEntry = { response: { status: e.status as number, headers: e.headers, body }, tags: e.tags, meta };
  if (typeof e.x === "number" && Number.isFinite(e.x)) entry.expiresAt = e.x;
  if (Buffer.isBuffer(e.b)) decoded.set(raw, entry);
  return entry;
}

/**
 * An entry as read back.
 *
 * @example
 * const { response, tags, meta }: DecodedEntry = decodeEntry(raw)!;
 */
export interface DecodedEntry {
  response: CachedResponse;
  tags: Record<string, number>;
  meta: Record<string, unknown>;
  /** When the entry expires in the store (ms since the epoch), when it was recorded. */
  expiresAt?: number;
}

/** In-memory records already decoded; they are never changed after they are written. */
const decoded = new WeakMap<object, DecodedEntry>();

function isHeaderRecord(value: unknown): value is Record<string, string | string[]> {
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  return Object.values(value).every((v) => typeof v === "string" || (Array.isArray(v) && v.every((x) => typeof x === "string")));
}

function isVersionRecord(value: unknown): value is Record<string, number> {
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  return Object.values(value).every((v) => typeof v === "number");
}
