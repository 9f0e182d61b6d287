import type { CachedResponse, CacheEntry, LookupResult, TagRef } from "./types";

/**
 * The contract every backend fulfils. Extend it to plug in your own store or CDN.
 *
 * @example
 * class MemoBackend extends BaseCacheBackend {
 *   private map = new Map<string, CachedResponse>();
 *   async get(key: string) { return this.map.get(key); }
 *   async set(entry: CacheEntry) { this.map.set(entry.key, entry.response); }
 *   async delete(key: string) { return this.map.delete(key); }
 *   async invalidateBySurrogate() { return 0; }
 * }
 */
export abstract class BaseCacheBackend {
  protected readonly options: Record<string, unknown>;

  constructor(options: Record<string, unknown> = {}) {
    this.options = options;
  }

  /** The stored response under `key`, or undefined. */
  abstract get(key: string): Promise<CachedResponse | undefined>;
  /** Stores an entry. */
  abstract set(entry: CacheEntry): Promise<void>;
  /** Deletes one entry; true when there was one. */
  abstract delete(key: string): Promise<boolean>;
  /** Invalidates everything tagged `surrogateKey`; returns the number of entries deleted (or the new version of a versioned tag). */
  abstract invalidateBySurrogate(surrogateKey: string): Promise<number>;

  /** Invalidates several tags; returns the sum of what {@link invalidateBySurrogate} returned for each. */
  async invalidateBySurrogates(keys: string[]): Promise<number> {
    let total = 0;
    for (const key of keys) total += await this.invalidateBySurrogate(key);
    return total;
  }

  /** Changes the response the client gets, on misses and hits alike (e.g. adds a CDN tag header). */
  prepareResponse(response: CachedResponse, surrogateKeys: string[]): CachedResponse {
    void surrogateKeys;
    return response;
  }

  /**
   * Reads the entry for a request whose tags are `tags`. Backends that track tag versions
   * override it to read entry and versions together and return a token for `set`.
   */
  async lookup(key: string, tags: readonly TagRef[]): Promise<LookupResult> {
    void tags;
    return { response: await this.get(key) };
  }

  /**
   * A synchronous read for stores in process memory: the entry when it is there and still valid,
   * undefined otherwise (then {@link lookup} decides). Lets a hit be answered without a single
   * await; backends on a network store keep the default.
   */
  lookupSync(key: string, tags: readonly TagRef[]): LookupResult | undefined {
    void key;
    void tags;
    return undefined;
  }

  /**
   * Tries to take a lock that other processes sharing the store respect (stampede protection
   * across processes). Returns a token when taken, `null` when another holder has it, and
   * `undefined` when this backend has no such locks (then only the in-process single-flight applies).
   * The lock frees itself after `ttlMs` if its holder dies.
   */
  async acquireLock(name: string, ttlMs: number): Promise<string | null | undefined> {
    void name;
    void ttlMs;
    return undefined;
  }

  /** Frees a lock taken with {@link acquireLock}, if the token still holds it. */
  async releaseLock(name: string, token: string): Promise<void> {
    void name;
    void token;
  }

  /** Releases connections. */
  async close(): Promise<void> {
    return undefined;
  }

  // --- Optional capabilities the invalidation and configuration layers read (all additive). ---

  /**
   * Optional: how long one call to this backend's store may take, in ms, before the store counts as
   * unreachable. Invalidations against this backend reject with a `CacheInvalidationError` when they
   * make no progress for this long plus one second. Unset: the configured `storeTimeoutMs`.
   *
   * @example
   * class MyBackend extends BaseCacheBackend { override readonly storeTimeoutMs = 500; ... }
   */
  storeTimeoutMs?: number;

  /**
   * Optional: where this backend keeps its entries. `"process"`: in this process's memory (other
   * processes cannot see or invalidate them); `"shared"`: a store several processes share (Redis,
   * SQL); `"none"`: no store of its own (a CDN). A composite refuses to mix `"process"` with `"shared"`.
   *
   * @example
   * class MemoBackend extends BaseCacheBackend { override readonly storeScope = "process" as const; ... }
   */
  storeScope?: "process" | "shared" | "none";

  /**
   * Optional: the backends this one is made of (a composite's parts). Invalidation reaches each part
   * once, even when a part is also configured under its own name.
   *
   * @example
   * override invalidationParts() { return this.parts; }
   */
  invalidationParts?(): BaseCacheBackend[];

  /**
   * Optional: invalidates `tags` (normalised, no duplicates) and says what happened to each:
   * `deleted` entries, and the new version of each tag bumped as `versioned()`. Without it, the
   * invalidation layer calls {@link invalidateBySurrogate} per tag and tells a version from a count
   * by its size (versions are microsecond clocks, above 10^15).
   *
   * @example
   * override async invalidateTagsDetailed(tags: string[]) { return { deleted: await this.deleteTagged(tags), versions: {} }; }
   */
  invalidateTagsDetailed?(tags: string[]): Promise<{ deleted: number; versions: Record<string, number> }>;

  /**
   * Optional: marks entries tagged `tags` stale instead of deleting them (`invalidateTag(t, { mode:
   * "stale" })`, SPEC §9): a soft purge on CDNs. Backends without it refuse `mode: "stale"`.
   *
   * @example
   * await backend.invalidateBySurrogatesStale?.(["products"]);
   */
  invalidateBySurrogatesStale?(tags: string[]): Promise<number>;

  /**
   * Optional: bytes this backend holds in this process's memory (an in-memory store, a local tier),
   * for the `cache_page_local_bytes` metric. Undefined: nothing in process memory.
   *
   * @example
   * override localBytes() { return this.map.calculatedSize; }
   */
  localBytes?(): number | undefined;

  /**
   * Optional: whether this backend's local tier may serve hits now (its lease is valid, SPEC §9),
   * for the `cache_page_tier_serving` metric. Undefined: no local tier.
   *
   * @example
   * override localTierServing() { return this.lease.valid(); }
   */
  localTierServing?(): boolean;

  /** When the store last answered during a long operation (ms since the epoch), see {@link noteStoreProgress}. */
  lastStoreProgressAt?: number;

  /**
   * Call from long store operations (e.g. after each batch of a large plain-tag invalidation): each
   * call restarts the deadline after which an invalidation counts the store as unreachable.
   *
   * @example
   * for (const batch of batches) { await this.deleteBatch(batch); this.noteStoreProgress(); }
   */
  protected noteStoreProgress(): void {
    this.lastStoreProgressAt = Date.now();
  }
}
