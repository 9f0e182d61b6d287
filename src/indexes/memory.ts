import { BaseSurrogateIndex } from "./base";
import { tagPart } from "./keyParts";
import { INDEX_SLACK_MS } from "./redis";

/** How a tag's record sits in the Map, in Keyv's in-memory layout (`{ value, expires }`). */
interface MemoryRecord {
  value: Map<string, number>;
  expires?: number;
}

/** Expired members trimmed per add, at most. */
const TRIM_PER_ADD = 100;

/**
 * True when `value` is a tag record written by {@link MemoryMembershipIndex}.
 *
 * @example
 * if (isMemoryIndexRecord(map.get(key))) trimMemoryRecord(map.get(key), Date.now(), 100);
 */
export function isMemoryIndexRecord(value: unknown): value is MemoryRecord {
  return !!value && typeof value === "object" && (value as MemoryRecord).value instanceof Map;
}

/**
 * Removes up to `limit` members of `record` whose time has passed; returns how many.
 * Members are kept in insertion order, so the oldest are looked at first.
 *
 * @example
 * trimMemoryRecord(record, Date.now(), 100); // how many were removed
 */
export function trimMemoryRecord(record: MemoryRecord, now: number, limit: number): number {
  let trimmed = 0;
  let looked = 0;
  for (const [key, until] of record.value) {
    if (looked++ >= limit) break;
    if (until < now) {
      record.value.delete(key);
      trimmed += 1;
    }
  }
  return trimmed;
}

/**
 * The index in Keyv's in-memory Map: one record per tag holding `cache key -> remembered until`.
 * Every update is synchronous (no await between reading and writing a record), so concurrent adds
 * are never lost, also between several backend objects sharing one Map. A member's time only grows
 * and members whose time has passed are trimmed as new ones arrive (and by `prune()`).
 *
 * Used by {@link KeyvSurrogateIndex} when its Keyv keeps data in a Map (the default store).
 *
 * @example
 * new KeyvSurrogateIndex(new Keyv({ namespace: "ccp:index" })); // uses a MemoryMembershipIndex
 */
export class MemoryMembershipIndex extends BaseSurrogateIndex {
  constructor(
    private readonly map: Map<string, unknown>,
    private readonly physicalKey: (part: string) => string,
    private readonly batchSize = 500,
  ) {
    super();
  }

  private keyOf(tag: string): string {
    return this.physicalKey(tagPart(tag));
  }

  private record(tag: string): MemoryRecord | undefined {
    const found = this.map.get(this.keyOf(tag));
    return isMemoryIndexRecord(found) ? found : undefined;
  }

  async add(surrogateKey: string, cacheKeys: string[], ttlSeconds: number): Promise<void> {
    if (cacheKeys.length === 0) return;
    const now = Date.now();
    const until = now + Math.ceil(ttlSeconds * 1000) + INDEX_SLACK_MS;
    let record = this.record(surrogateKey);
    if (!record) {
      record = { value: new Map() };
      this.map.set(this.keyOf(surrogateKey), record);
    }
    for (const key of cacheKeys) {
      const previous = record.value.get(key);
      if (previous === undefined || previous < until) {
        // Re-inserted at the end: the record stays ordered by time of last add, oldest first.
        record.value.delete(key);
        record.value.set(key, until);
      }
    }
    trimMemoryRecord(record, now, TRIM_PER_ADD);
  }

  async getKeys(surrogateKey: string): Promise<string[]> {
    return [...(this.record(surrogateKey)?.value.keys() ?? [])];
  }

  async remove(surrogateKey: string): Promise<void> {
    this.map.delete(this.keyOf(surrogateKey));
  }

  /** Takes members in batches, at most as many as the record held when the drain began. */
  override async drain(surrogateKey: string, consume: (keys: string[]) => Promise<void>): Promise<void> {
    let budget = this.record(surrogateKey)?.value.size ?? 0;
    while (budget > 0) {
      const record = this.record(surrogateKey);
      if (!record) return;
      const batch: string[] = [];
      for (const key of record.value.keys()) {
        if (batch.length >= Math.min(this.batchSize, budget)) break;
        batch.push(key);
      }
      if (batch.length === 0) return;
      for (const key of batch) record.value.delete(key);
      if (record.value.size === 0 && this.map.get(this.keyOf(surrogateKey)) === record) this.map.delete(this.keyOf(surrogateKey));
      budget -= batch.length;
      await consume(batch);
    }
  }
}
