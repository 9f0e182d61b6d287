import type { Keyv } from "keyv";
import { BaseSurrogateIndex } from "./base";
import { KeyedMutex } from "./KeyedMutex";
import { tagPart } from "./keyParts";
import { INDEX_SLACK_MS } from "./redis";

interface StoredSet {
  /** cache key -> ms epoch until which it must be remembered */
  keys: Record<string, number>;
}

/**
 * The fallback index for Keyv adapters the cache knows nothing about (neither memory, Redis nor
 * SQL): one record per tag, read-modified-written under a per-tag lock. Safe within one process
 * only: two processes adding to one tag at the same moment can lose an add. Pick Redis, SQLite or
 * PostgreSQL (or pass a {@link RedisSurrogateIndex}) when several processes share the store.
 *
 * @example
 * new KeyvSurrogateIndex(new Keyv({ store: someOtherAdapter, namespace: "ccp:index" })); // uses a KeyvRecordIndex
 */
export class KeyvRecordIndex extends BaseSurrogateIndex {
  private readonly mutex = new KeyedMutex();

  constructor(private readonly keyv: Keyv) {
    super();
  }

  async add(surrogateKey: string, cacheKeys: string[], ttlSeconds: number): Promise<void> {
    if (cacheKeys.length === 0) return;
    await this.mutex.run(surrogateKey, async () => {
      const now = Date.now();
      const until = now + Math.ceil(ttlSeconds * 1000) + INDEX_SLACK_MS;
      const record = await this.read(surrogateKey, now);
      for (const key of cacheKeys) record.keys[key] = Math.max(record.keys[key] ?? 0, until);
      await this.write(surrogateKey, record);
    });
  }

  async getKeys(surrogateKey: string): Promise<string[]> {
    return Object.keys((await this.read(surrogateKey, Date.now())).keys);
  }

  async remove(surrogateKey: string): Promise<void> {
    await this.mutex.run(surrogateKey, () => this.keyv.delete(tagPart(surrogateKey)));
  }

  override async drain(surrogateKey: string, consume: (keys: string[]) => Promise<void>): Promise<void> {
    const keys = await this.mutex.run(surrogateKey, async () => {
      const record = await this.read(surrogateKey, Date.now());
      await this.keyv.delete(tagPart(surrogateKey));
      return Object.keys(record.keys);
    });
    for (let i = 0; i < keys.length; i += 500) await consume(keys.slice(i, i + 500));
  }

  private async read(surrogateKey: string, now: number): Promise<StoredSet> {
    const stored = (await this.keyv.get(tagPart(surrogateKey))) as StoredSet | undefined;
    const keys: Record<string, number> = {};
    if (stored && typeof stored === "object" && stored.keys && typeof stored.keys === "object") {
      for (const [key, until] of Object.entries(stored.keys)) if (typeof until === "number" && until > now) keys[key] = until;
    }
    return { keys };
  }

  private async write(surrogateKey: string, record: StoredSet): Promise<void> {
    let last = 0;
    for (const until of Object.values(record.keys)) if (until > last) last = until;
    const ttl = last - Date.now();
    if (ttl <= 0) await this.keyv.delete(tagPart(surrogateKey));
    else await this.keyv.set(tagPart(surrogateKey), record, ttl);
  }
}
