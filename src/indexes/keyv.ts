import type { Keyv } from "keyv";
import { BaseSurrogateIndex } from "./base";
import { KeyedMutex } from "./KeyedMutex";
import { RedisSurrogateIndex } from "./redis";
import { isRedisSetClient } from "./redisClient";

interface StoredSet {
  /** cache key -> ms epoch until which it must be remembered */
  keys: Record<string, number>;
}

/**
 * The default index: a Keyv namespace. When the Keyv store is Redis (@keyv/redis) it uses native
 * Redis sets on the client @keyv/redis already holds. On other stores a tag's record is updated
 * under a per-tag lock, so concurrent adds within a process are never lost, and each member keeps
 * its own expiry so the record never forgets a key while its entry can be served.
 *
 * @example
 * new KeyvCacheBackend({ store: "redis://127.0.0.1:6379" }) // uses KeyvSurrogateIndex with Redis sets
 */
export class KeyvSurrogateIndex extends BaseSurrogateIndex {
  private readonly redis?: RedisSurrogateIndex;
  private readonly mutex = new KeyedMutex();

  constructor(private readonly keyv: Keyv) {
    super();
    const client = (keyv.store as { client?: unknown } | undefined)?.client;
    if (isRedisSetClient(client)) {
      const namespace = keyv.namespace ?? (keyv.store as { namespace?: string }).namespace ?? "keyv";
      this.redis = new RedisSurrogateIndex({ client, prefix: `${namespace}::set:`, timeout: 1 });
    }
  }

  /** True when native Redis sets are in use. */
  get usesRedisSets(): boolean {
    return this.redis !== undefined;
  }

  async add(surrogateKey: string, cacheKeys: string[], ttlSeconds: number): Promise<void> {
    if (this.redis) return this.redis.add(surrogateKey, cacheKeys, ttlSeconds);
    if (cacheKeys.length === 0) return;
    await this.mutex.run(surrogateKey, async () => {
      const now = Date.now();
      const until = now + ttlSeconds * 1000;
      const record = await this.read(surrogateKey, now);
      for (const key of cacheKeys) record.keys[key] = Math.max(record.keys[key] ?? 0, until);
      await this.write(surrogateKey, record);
    });
  }

  async getKeys(surrogateKey: string): Promise<string[]> {
    if (this.redis) return this.redis.getKeys(surrogateKey);
    return Object.keys((await this.read(surrogateKey, Date.now())).keys);
  }

  async remove(surrogateKey: string): Promise<void> {
    if (this.redis) return this.redis.remove(surrogateKey);
    await this.mutex.run(surrogateKey, () => this.keyv.delete(this.keyOf(surrogateKey)));
  }

  override async drain(surrogateKey: string, consume: (keys: string[]) => Promise<void>): Promise<void> {
    if (this.redis) return this.redis.drain(surrogateKey, consume);
    const keys = await this.mutex.run(surrogateKey, async () => {
      const record = await this.read(surrogateKey, Date.now());
      await this.keyv.delete(this.keyOf(surrogateKey));
      return Object.keys(record.keys);
    });
    for (let i = 0; i < keys.length; i += 500) await consume(keys.slice(i, i + 500));
  }

  private keyOf(surrogateKey: string): string {
    return `set:${encodeURIComponent(surrogateKey)}`;
  }

  private async read(surrogateKey: string, now: number): Promise<StoredSet> {
    const stored = (await this.keyv.get(this.keyOf(surrogateKey))) as StoredSet | undefined;
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
    if (ttl <= 0) await this.keyv.delete(this.keyOf(surrogateKey));
    else await this.keyv.set(this.keyOf(surrogateKey), record, ttl);
  }
}
