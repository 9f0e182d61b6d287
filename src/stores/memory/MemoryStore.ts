import { LRUCache } from "lru-cache";
import { approximateSize } from "../sizeOf";

/**
 * Default bound of the in-memory store: 64 MiB.
 *
 * @example
 * new KeyvCacheBackend({ maxBytes: DEFAULT_MEMORY_MAX_BYTES }); // the same as new KeyvCacheBackend()
 */
export const DEFAULT_MEMORY_MAX_BYTES = 64 * 1024 * 1024;

/** What the LRU's own bookkeeping and an expiry timer cost per key, roughly. */
const PER_KEY_OVERHEAD = 200;

/**
 * The Map-shaped store the memory driver works on: a plain `Map` you pass (kept as is, unbounded),
 * or a {@link MemoryStore}. Values are Keyv records, `{ value, expires }`.
 *
 * @example
 * const map: MemoryMap = new MemoryStore({ maxBytes: 8 * 1024 * 1024 });
 */
export interface MemoryMap {
  get(key: string): unknown;
  set(key: string, value: unknown, ttlMs?: number): unknown;
  delete(key: string): boolean;
  has(key: string): boolean;
  clear(): void;
  keys(): IterableIterator<string>;
}

/**
 * Options of {@link MemoryStore}.
 *
 * @example
 * new MemoryStore({ maxBytes: 16 * 1024 * 1024 });
 */
export interface MemoryStoreOptions {
  /** Upper bound of what the store holds, bytes (default 64 MiB). */
  maxBytes?: number;
}

/** A record that wants to know when the LRU drops it for space (the memory index does). */
interface EvictionAware {
  onEvict?: () => void;
}

/**
 * A bounded in-memory Keyv store on lru-cache: at most `maxBytes` (each value's size estimated,
 * plus a per-key overhead), least recently used entries evicted first, and every value with a
 * lifetime dropped by a timer when it expires (`ttlAutopurge`), so expired entries are reclaimed
 * as fast as they are created. It is the default store of {@link KeyvCacheBackend}; pass one to
 * several backends to let them share it.
 *
 * @example
 * const store = new MemoryStore({ maxBytes: 32 * 1024 * 1024 });
 * const a = new KeyvCacheBackend({ store, namespace: "shop" });
 * const b = new KeyvCacheBackend({ store, namespace: "shop" }); // sees a's entries
 */
export class MemoryStore implements MemoryMap {
  readonly maxBytes: number;
  /** Keyv sets this on its store; unused. */
  namespace?: string;
  private readonly lru: LRUCache<string, object>;
  private readonly dropListeners = new Set<(key: string, value: unknown) => void>();

  constructor(options: MemoryStoreOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_MEMORY_MAX_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new TypeError(`maxBytes must be a whole number of bytes, at least 1 (got ${String(options.maxBytes)})`);
    }
    this.maxBytes = maxBytes;
    this.lru = new LRUCache<string, object>({
      maxSize: maxBytes,
      sizeCalculation: (value, key) => Math.max(1, approximateSize(value) + key.length + PER_KEY_OVERHEAD),
      ttlAutopurge: true,
      // Values only ever expire by their own lifetime, never by a read.
      updateAgeOnGet: false,
      allowStale: false,
      disposeAfter: (value, key, reason) => {
        if (reason === "evict") (value as EvictionAware).onEvict?.();
        if (reason === "evict" || reason === "expire") for (const listener of this.dropListeners) listener(key, value);
      },
    });
  }

  /**
   * Calls `listener` with every value the store drops by itself (evicted for space or expired),
   * after it is gone; the memory driver uses it to take dropped entries out of the index.
   */
  onDrop(listener: (key: string, value: unknown) => void): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  /** What the store accounts for now, bytes (always at most `maxBytes`). */
  get calculatedSize(): number {
    return this.lru.calculatedSize;
  }

  /** How many values are held. */
  get size(): number {
    return this.lru.size;
  }

  get(key: string): unknown {
    return this.lru.get(key);
  }

  /** Stores a Keyv record; its lifetime is `ttlMs`, else what its `expires` says, else none. */
  set(key: string, value: unknown, ttlMs?: number): boolean {
    if (value === null || typeof value !== "object") {
      // Keyv records are objects; anything else is foreign and kept without a lifetime.
      this.lru.set(key, { value }, {});
      return true;
    }
    let ttl = typeof ttlMs === "number" && ttlMs > 0 ? ttlMs : undefined;
    const expires = (value as { expires?: unknown }).expires;
    if (ttl === undefined && typeof expires === "number") ttl = Math.max(1, expires - Date.now());
    this.lru.set(key, value, ttl === undefined ? {} : { ttl: Math.ceil(ttl) });
    return true;
  }

  delete(key: string): boolean {
    return this.lru.delete(key);
  }

  has(key: string): boolean {
    return this.lru.has(key);
  }

  clear(): void {
    this.lru.clear();
  }

  keys(): IterableIterator<string> {
    return this.lru.keys();
  }
}
