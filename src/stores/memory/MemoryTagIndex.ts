import type { NativeTagIndex } from "../StoreDriver";
import { tagPart } from "../keyParts";
import { RETENTION_SLACK_MS } from "../retention";
import type { MemoryMap } from "./MemoryStore";

/**
 * How a tag's record sits in the store, in Keyv's in-memory layout (`{ value, expires }`).
 *
 * @example
 * const record: MemoryIndexRecord = { value: new Map([["=:/p/1", Date.now() + 60_000]]), expires: Date.now() + 60_000, bytes: 120 };
 */
export interface MemoryIndexRecord {
  value: Map<string, number>;
  expires: number;
  /** Accounted size, kept as members come and go (the LRU reads it). */
  bytes: number;
  /** Called when the LRU drops the record for space. */
  onEvict?: () => void;
}

/** Expired members trimmed per add, at most. */
const TRIM_PER_ADD = 100;
const MEMBER_OVERHEAD = 48;

/**
 * True when `value` is a tag record written by {@link MemoryTagIndex}.
 *
 * @example
 * if (isMemoryIndexRecord(map.get(key))) trimMemoryRecord(map.get(key), Date.now(), 100);
 */
export function isMemoryIndexRecord(value: unknown): value is MemoryIndexRecord {
  return !!value && typeof value === "object" && (value as MemoryIndexRecord).value instanceof Map;
}

/**
 * Removes up to `limit` members of `record` whose time has passed; returns how many.
 * Members are kept in insertion order, so the oldest are looked at first.
 *
 * @example
 * trimMemoryRecord(record, Date.now(), 100); // how many were removed
 */
export function trimMemoryRecord(record: MemoryIndexRecord, now: number, limit: number): number {
  let trimmed = 0;
  let looked = 0;
  for (const [key, until] of record.value) {
    if (looked++ >= limit) break;
    if (until < now) {
      record.value.delete(key);
      record.bytes -= key.length + MEMBER_OVERHEAD;
      trimmed += 1;
    }
  }
  return trimmed;
}

/**
 * The index in process memory: one record per tag holding `member -> remembered until`. Every
 * update is synchronous (no await between reading and writing a record), so concurrent adds are
 * never lost, also between several backend objects sharing one store. A member's time only grows
 * and members whose time has passed are trimmed as new ones arrive.
 *
 * The record is written again after each change so that a bounded store accounts for its size and
 * lifetime. A bounded store may drop a record for space; `onEvict` then runs (the driver deletes the
 * tag's version, so every entry recorded under the tag misses instead of outliving its index).
 *
 * @example
 * const index = new MemoryTagIndex(store, (part) => `ccp:index:${part}`, (tag) => forgetVersion(tag), 500);
 */
export class MemoryTagIndex implements NativeTagIndex {
  constructor(
    private readonly map: MemoryMap,
    private readonly physicalKey: (part: string) => string,
    private readonly onEvict: (tag: string) => void,
    private readonly batchSize = 500,
  ) {}

  private keyOf(tag: string): string {
    return this.physicalKey(tagPart(tag));
  }

  private record(tag: string): MemoryIndexRecord | undefined {
    const found = this.map.get(this.keyOf(tag));
    return isMemoryIndexRecord(found) ? found : undefined;
  }

  /** Writes a fresh envelope around the members (a new object, so the LRU measures it again). */
  private write(tag: string, record: MemoryIndexRecord): void {
    const key = this.keyOf(tag);
    if (record.value.size === 0) {
      if (this.map.get(key) === record) this.map.delete(key);
      return;
    }
    // Members' times only grow, so the record's expiry is the largest time ever added (kept as
    // members leave: a longer life is safe).
    const envelope: MemoryIndexRecord = { value: record.value, expires: record.expires, bytes: record.bytes, onEvict: () => this.onEvict(tag) };
    this.map.set(key, envelope, Math.max(1, record.expires - Date.now()));
    // A bounded store refuses a record larger than it may hold: its entries must not outlive it.
    if (!this.map.has(key)) this.onEvict(tag);
  }

  /** Takes one member out of a tag's record (an entry the store dropped by itself). */
  forget(tag: string, member: string): void {
    const record = this.record(tag);
    if (!record?.value.delete(member)) return;
    record.bytes -= member.length + MEMBER_OVERHEAD;
    this.write(tag, record);
  }

  async add(tag: string, members: string[], ttlSeconds: number): Promise<void> {
    if (members.length === 0) return;
    const now = Date.now();
    const until = now + Math.ceil(ttlSeconds * 1000) + RETENTION_SLACK_MS;
    const record = this.record(tag) ?? { value: new Map<string, number>(), expires: until, bytes: tag.length + 64 };
    for (const member of members) {
      const previous = record.value.get(member);
      if (previous === undefined || previous < until) {
        // Re-inserted at the end: the record stays ordered by time of last add, oldest first.
        if (previous === undefined) record.bytes += member.length + MEMBER_OVERHEAD;
        record.value.delete(member);
        record.value.set(member, until);
      }
    }
    record.expires = Math.max(record.expires, until);
    trimMemoryRecord(record, now, TRIM_PER_ADD);
    this.write(tag, record);
  }

  async getKeys(tag: string): Promise<string[]> {
    return [...(this.record(tag)?.value.keys() ?? [])];
  }

  async remove(tag: string): Promise<void> {
    this.map.delete(this.keyOf(tag));
  }

  /** Takes members in batches, at most as many as the record held when the drain began. */
  async drain(tag: string, consume: (members: string[]) => Promise<void>): Promise<void> {
    let budget = this.record(tag)?.value.size ?? 0;
    while (budget > 0) {
      const record = this.record(tag);
      if (!record) return;
      const batch: string[] = [];
      for (const key of record.value.keys()) {
        if (batch.length >= Math.min(this.batchSize, budget)) break;
        batch.push(key);
      }
      if (batch.length === 0) return;
      for (const key of batch) {
        record.value.delete(key);
        record.bytes -= key.length + MEMBER_OVERHEAD;
      }
      this.write(tag, record);
      budget -= batch.length;
      await consume(batch);
    }
  }
}
