import type { Keyv } from "keyv";
import { KeyedMutex } from "../stores/KeyedMutex";
import { tagPart } from "../stores/keyParts";
import { RETENTION_SLACK_MS } from "../stores/retention";
import type { NativeTagIndex } from "../stores/StoreDriver";

interface StoredSet {
  /** member -> ms epoch until which it must be remembered */
  keys: Record<string, number>;
}

/**
 * The fallback index for store drivers without a native one: one record per tag,
 * read-modified-written under a per-tag lock. Safe within one process only: two processes adding
 * to one tag at the same moment can lose an add. Pick Redis, SQLite or PostgreSQL (or pass a
 * {@link RedisSurrogateIndex}) when several processes share the store.
 *
 * @example
 * const index = new KeyvRecordIndex(new Keyv({ store: someOtherAdapter, namespace: "ccp:index" }));
 */
export class KeyvRecordIndex implements NativeTagIndex {
  private readonly mutex = new KeyedMutex();

  constructor(
    private readonly keyv: Keyv,
    private readonly batchSize = 500,
  ) {}

  async add(tag: string, members: string[], ttlSeconds: number): Promise<void> {
    if (members.length === 0) return;
    await this.mutex.run(tag, async () => {
      const now = Date.now();
      const until = now + Math.ceil(ttlSeconds * 1000) + RETENTION_SLACK_MS;
      const record = await this.read(tag, now);
      for (const key of members) record.keys[key] = Math.max(record.keys[key] ?? 0, until);
      await this.write(tag, record);
    });
  }

  async getKeys(tag: string): Promise<string[]> {
    return Object.keys((await this.read(tag, Date.now())).keys);
  }

  async remove(tag: string): Promise<void> {
    await this.mutex.run(tag, () => this.keyv.delete(tagPart(tag)));
  }

  async drain(tag: string, consume: (members: string[]) => Promise<void>): Promise<void> {
    const keys = await this.mutex.run(tag, async () => {
      const record = await this.read(tag, Date.now());
      await this.keyv.delete(tagPart(tag));
      return Object.keys(record.keys);
    });
    for (let i = 0; i < keys.length; i += this.batchSize) await consume(keys.slice(i, i + this.batchSize));
  }

  private async read(tag: string, now: number): Promise<StoredSet> {
    const stored = (await this.keyv.get(tagPart(tag))) as StoredSet | undefined;
    const keys: Record<string, number> = {};
    if (stored && typeof stored === "object" && stored.keys && typeof stored.keys === "object") {
      for (const [key, until] of Object.entries(stored.keys)) if (typeof until === "number" && until > now) keys[key] = until;
    }
    return { keys };
  }

  private async write(tag: string, record: StoredSet): Promise<void> {
    let last = 0;
    for (const until of Object.values(record.keys)) if (until > last) last = until;
    const ttl = last - Date.now();
    if (ttl <= 0) await this.keyv.delete(tagPart(tag));
    else await this.keyv.set(tagPart(tag), record, ttl);
  }
}
