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
}
