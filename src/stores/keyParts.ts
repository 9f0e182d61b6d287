import { createHash } from "node:crypto";

/**
 * How the cache names things inside a Keyv namespace. Every part starts with `=` (the value in
 * clear), `#` (a SHA-256 of it) or `!` (a lock), so:
 *
 * - a part never starts with a namespace (namespaces start with a letter or digit), which keeps
 *   Keyv from mistaking a key that happens to begin with `<namespace>:` for an already prefixed one;
 * - the mapping is injective: a clear part and a hashed part never meet, a tag is percent-encoded
 *   (no tag can address another tag's keys), and the hash is taken over the UTF-16 code units, so
 *   two strings that differ only in lone surrogates never share a hash;
 * - whatever a client put in a key (NUL, control characters, lone surrogates, 100 KB), what reaches
 *   the store is short, valid text: a key in clear only when it is short and clean, else its hash.
 */

/**
 * Longest part written in clear; longer keys are hashed. Keeps every index membership (whose
 * member is an entry's part) O(1) in size, so a response costs O(key + tags), not O(tags × key).
 *
 * @example
 * entryPart("x".repeat(200)).startsWith("#"); // true
 */
export const MAX_CLEAR_PART = 128;

/**
 * Length of a hashed part: `#` and 64 hex digits.
 *
 * @example
 * entryPart("x".repeat(300), 255).length === HASHED_PART_LENGTH; // true
 */
export const HASHED_PART_LENGTH = 65;

/** SHA-256 over the UTF-16 code units (injective for every JS string, well-formed or not), hex. */
function sha256(value: string): string {
  return createHash("sha256").update(Buffer.from(value, "utf16le")).digest("hex");
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// NUL is refused by PostgreSQL text; other control characters are kept out of clear parts so that
// a part is printable wherever it shows up (redis-cli, logs).
const CONTROL = /[\u0000-\u001f\u007f]/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * True when `value` can be written in clear on every store: no control characters, no lone surrogates.
 *
 * @example
 * isStoreSafeText(":/products?q=shoes"); // true
 * isStoreSafeText(":/?q=\u0000"); // false
 */
export function isStoreSafeText(value: string): boolean {
  // Printable ASCII, what nearly every key is, needs one scan instead of the two below.
  if (PRINTABLE_ASCII.test(value)) return true;
  return !CONTROL.test(value) && !LONE_SURROGATE.test(value);
}

/**
 * The part an entry is stored under, for a storage key; `budget` is what the store allows for the part.
 *
 * @example
 * entryPart(":/products?page=2"); // "=:/products?page=2"
 * entryPart(":/" + "x".repeat(300)); // "#<sha-256 hex>"
 * entryPart(":/?q=\u0000"); // "#<sha-256 hex>"
 */
export function entryPart(storageKey: string, budget = Infinity): string {
  const fits = 1 + storageKey.length <= Math.min(budget, MAX_CLEAR_PART);
  return fits && isStoreSafeText(storageKey) ? `=${storageKey}` : `#${sha256(storageKey)}`;
}

/**
 * The part naming a tag (its version key, its index record or set).
 *
 * @example
 * tagPart("a:b c"); // "=a%3Ab%20c"
 */
export function tagPart(tag: string, budget = Infinity): string {
  if (LONE_SURROGATE.test(tag)) return `#${sha256(tag)}`;
  const clear = `=${encodeURIComponent(tag)}`;
  return clear.length <= budget ? clear : `#${sha256(tag)}`;
}

/**
 * The part of one (tag, member) membership, for stores that keep one row per membership.
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
 * The full membership part: the tag's prefix, then the member in clear or hashed.
 *
 * @example
 * membershipPart("products", "=:/p/1"); // "=products:==:/p/1"
 */
export function membershipPart(tag: string, member: string, budget = Infinity): string {
  const prefix = membershipPrefix(tag, budget);
  return `${prefix}${entryPart(member, budget - prefix.length)}`;
}

/**
 * The part of a lock (stampede protection); `!` keeps it apart from every tag and entry part.
 *
 * @example
 * lockPart("lock::/products"); // "!lock%3A%3A%2Fproducts"
 */
export function lockPart(name: string, budget = Infinity): string {
  if (LONE_SURROGATE.test(name)) return `!#${sha256(name)}`;
  const clear = `!${encodeURIComponent(name)}`;
  return clear.length <= Math.min(budget, MAX_CLEAR_PART) ? clear : `!#${sha256(name)}`;
}

/**
 * The part marking a tag as `versioned()` on stores without an atomic version write (the core's
 * fallback); `~` keeps it apart from every other part.
 *
 * @example
 * versionedMarkPart("=catalog"); // "~=catalog"
 */
export function versionedMarkPart(versionPart: string): string {
  return `~${versionPart}`;
}

/**
 * The part, next to a tag's version, that records its last soft invalidation (`mode: "stale"`):
 * which version it replaced, by which, and when. `^` keeps it apart from every other part.
 *
 * @example
 * softMarkPart("=products"); // "^=products"
 */
export function softMarkPart(versionPart: string): string {
  return `^${versionPart}`;
}
