import type { CacheRequest } from "../model";
import { DEFAULT_VERSION_TIMEOUT, rememberVersionedTag } from "../backends/tagVersions";

export { DEFAULT_VERSION_TIMEOUT };

/**
 * A tag invalidated in O(1): invalidating it bumps a version instead of deleting entries.
 * Create it with {@link versioned}.
 */
export class Versioned {
  constructor(
    readonly name: string | ((req: CacheRequest) => string),
    readonly timeout: number = DEFAULT_VERSION_TIMEOUT,
  ) {}
}

/**
 * Wraps a tag name (or a callable returning one) for O(1) versioned invalidation. `timeout` is the
 * lifetime of the version key in seconds (default 864000); an entry never outlives it.
 *
 * @example
 * @CachePage({ timeout: 3600, keyFunc: (r) => r.path, tags: [versioned("products")] })
 * // later: O(1), whatever the number of entries
 * await invalidateTag("products");
 */
export function versioned(name: string | ((req: CacheRequest) => string), timeout: number = DEFAULT_VERSION_TIMEOUT): Versioned {
  if (typeof name !== "string" && typeof name !== "function") {
    throw new TypeError(`versioned(): the name must be a string or a function returning one (got ${typeof name})`);
  }
  if (typeof name === "string" && name.trim() === "") {
    throw new TypeError("versioned(): the name must not be empty");
  }
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout <= 0) {
    throw new TypeError(`versioned("${typeof name === "string" ? name : "<fn>"}"): timeout must be a positive number of seconds (got ${String(timeout)})`);
  }
  const v = new Versioned(name, timeout);
  if (typeof name === "string") rememberVersionedTag(normalizeTagName(name), timeout);
  return v;
}

/** Trims, turns inner white space into `-`. Empty result means "no tag". */
export function normalizeTagName(name: string): string {
  return name.trim().replace(/\s+/g, "-");
}
