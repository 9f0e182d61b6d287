import { createHash } from "node:crypto";

/**
 * How the cache names things inside a Keyv namespace. Every part starts with `=` (the value in
 * clear) or `#` (a SHA-256 of it, when the clear form would not fit the store's key column), or
 * `!` for a lock, so:
 *
 * - a part never starts with a namespace (namespaces start with a letter or digit), which keeps
 *   Keyv from mistaking a key that happens to begin with `<namespace>:` for an already prefixed one;
 * - the mapping is injective: a clear part and a hashed part never meet, and a tag is
 *   percent-encoded, so no tag name (with `:`, spaces, CR/LF ...) can address another tag's keys.
 */

/** SHA-256, hex. */
function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/**
 * Length of a hashed part: `#` and 64 hex digits.
 *
 * @example
 * entryPart("x".repeat(300), 255).length === HASHED_PART_LENGTH; // true
 */
export const HASHED_PART_LENGTH = 65;

/**
 * The part an entry is stored under, for a storage key; `budget` is what the store allows for the part.
 *
 * @example
 * entryPart(":/products?page=2"); // "=:/products?page=2"
 * entryPart(":/" + "x".repeat(300), 240); // "#<sha-256 hex>"
 */
export function entryPart(storageKey: string, budget = Infinity): string {
  return 1 + storageKey.length <= budget ? `=${storageKey}` : `#${sha256(storageKey)}`;
}

/**
 * The part naming a tag (its version key, its index record or set).
 *
 * @example
 * tagPart("a:b c"); // "=a%3Ab%20c"
 */
export function tagPart(tag: string, budget = Infinity): string {
  const clear = `=${encodeURIComponent(tag)}`;
  return clear.length <= budget ? clear : `#${sha256(tag)}`;
}

/**
 * The part of one (tag, cache key) membership, for stores that keep one row per membership.
 * All memberships of a tag share the prefix `membershipPrefix(tag)`, which no other tag's
 * memberships start with (the tag part never contains `:`).
 *
 * @example
 * membershipPrefix("products"); // "=products:"
 */
export function membershipPrefix(tag: string, budget = Infinity): string {
  return `${tagPart(tag, budget - 1 - HASHED_PART_LENGTH)}:`;
}

/**
 * The full membership part: the tag's prefix, then the cache key in clear or hashed.
 *
 * @example
 * membershipPart("products", ":/p/1"); // "=products:=:/p/1"
 */
export function membershipPart(tag: string, cacheKey: string, budget = Infinity): string {
  const prefix = membershipPrefix(tag, budget);
  return `${prefix}${entryPart(cacheKey, budget - prefix.length)}`;
}

/**
 * The part of a lock (stampede protection); `!` keeps it apart from every tag and entry part.
 *
 * @example
 * lockPart("lock::/products"); // "!lock%3A%3A%2Fproducts"
 */
export function lockPart(name: string, budget = Infinity): string {
  const clear = `!${encodeURIComponent(name)}`;
  return clear.length <= budget ? clear : `!#${sha256(name)}`;
}
