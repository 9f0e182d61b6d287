import { LRUCache } from "lru-cache";
import type { CachedResponse } from "../model";
import { approximateSize } from "../stores/sizeOf";
import type { TierEvent } from "../stores/TierChannel";

/** Default bound of a local tier: 32 MiB. */
export const DEFAULT_LOCAL_MAX_BYTES = 32 * 1024 * 1024;
/** Tag versions a local tier remembers, at most; beyond, the oldest is forgotten. */
const MAX_LOCAL_TAGS = 100_000;
/** Bytes counted per entry beyond its response and key (the record, the LRU's bookkeeping). */
const PER_ENTRY_OVERHEAD = 200;

/**
 * An entry as the local tier keeps it: the response and the tag versions it was computed under.
 *
 * @example
 * const entry: LocalEntry = { response, tags: { products: 1764115200000000 }, meta: {} };
 */
export interface LocalEntry {
  response: CachedResponse;
  tags: Record<string, number>;
  meta: Record<string, unknown>;
}

/**
 * The in-process tier of a two-tier backend (SPEC §9): decoded entries in a byte-bounded LRU, and
 * the newest version of each tag this process knows of (from the entries it read and the
 * invalidations it applied). A local entry is served only while every version it was computed
 * under is still the newest known here; versions known here only ever grow, so an invalidation
 * applied before a slow read returns still wins over it.
 *
 * `epoch` changes whenever something is forgotten that a fill in flight could contradict (the tier
 * is cleared, a tag version is evicted, an entry is deleted by key): a fill that started under an
 * older epoch is dropped.
 *
 * @example
 * const tier = new LocalTier(8 * 1024 * 1024);
 * const epoch = tier.epoch;
 * tier.put("=:/products", { response, tags: { products: 17 }, meta: {} }, Date.now() + 60_000, epoch);
 * tier.apply({ tags: [["products", 18]], parts: [] });
 * tier.get("=:/products"); // undefined: invalidated
 */
export class LocalTier {
  private readonly lru: LRUCache<string, LocalEntry>;
  private readonly versions = new Map<string, number>();
  private current = 0;

  constructor(readonly maxBytes: number) {
    this.lru = new LRUCache<string, LocalEntry>({
      maxSize: maxBytes,
      sizeCalculation: (entry, key) => Math.max(1, approximateSize(entry.response) + key.length + PER_ENTRY_OVERHEAD),
    });
  }

  /** Changes whenever a fill in flight may no longer be trusted. */
  get epoch(): number {
    return this.current;
  }

  /** The entry under `part` when it is unexpired and computed under the newest versions known here. */
  get(part: string): LocalEntry | undefined {
    const entry = this.lru.get(part);
    if (!entry) return undefined;
    for (const name in entry.tags) if (this.versions.get(name) !== entry.tags[name]) return undefined;
    return entry;
  }

  /**
   * Keeps `entry` until `expiresAt` (ms since the epoch), unless the tier moved to another epoch
   * since `epoch` was read (before the store was), or the entry is already outdated here.
   */
  put(part: string, entry: LocalEntry, expiresAt: number, epoch: number): void {
    if (epoch !== this.current) return;
    const ttl = Math.floor(expiresAt - Date.now());
    if (!(ttl > 0)) return;
    this.learn(entry.tags);
    if (epoch !== this.current) return;
    for (const name in entry.tags) if (this.versions.get(name) !== entry.tags[name]) return;
    this.lru.set(part, entry, { ttl });
  }

  /** Records versions read from the store (only a newer one replaces what is known). */
  learn(versions: Record<string, number | undefined>): void {
    for (const name in versions) {
      const version = versions[name];
      if (typeof version === "number") this.raise(name, version);
    }
  }

  /** Applies an invalidation: its tags' versions move up, its deleted entries go. */
  apply(event: TierEvent): void {
    for (const [name, version] of event.tags) this.raise(name, version);
    if (event.parts.length === 0) return;
    this.current += 1;
    for (const part of event.parts) this.lru.delete(part);
  }

  /** Forgets everything (the lease lapsed: invalidations may have been missed). */
  clear(): void {
    this.current += 1;
    this.lru.clear();
    this.versions.clear();
  }

  /** Bytes held (as counted against `maxBytes`). */
  bytes(): number {
    return this.lru.calculatedSize;
  }

  /** Entries held. */
  get size(): number {
    return this.lru.size;
  }

  private raise(name: string, version: number): void {
    const known = this.versions.get(name);
    if (known !== undefined && known >= version) return;
    if (known === undefined && this.versions.size >= MAX_LOCAL_TAGS) {
      // Forgetting a version could let an older read win again: fills in flight are dropped.
      this.versions.delete(this.versions.keys().next().value as string);
      this.current += 1;
    }
    this.versions.set(name, version);
  }
}
