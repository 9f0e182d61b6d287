import { createClient } from "@keyv/redis";
import { BaseSurrogateIndex } from "./base";
import { isRedisSetClient, type RedisSetClient } from "./redisClient";

/** Options of {@link RedisSurrogateIndex}. */
export interface RedisSurrogateIndexOptions {
  /** Redis URL; used when no `client` is given. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** An existing node-redis client (e.g. the one @keyv/redis holds). */
  client?: unknown;
  /** Minimum lifetime of an index set, seconds (default 86400); it grows with the entries it holds. */
  timeout?: number;
  /** Key prefix of the index sets (default `_surrogate:`). */
  prefix?: string;
  /** How many members one invalidation step pops (default 500). */
  batchSize?: number;
}

/**
 * A surrogate index in native Redis sets: `SADD` and the TTL update go in one MULTI, so concurrent
 * adds are never lost and a set never expires before the entries it points to.
 *
 * @example
 * new KeyvCacheBackend({ store: "redis://127.0.0.1:6379", surrogateIndex: new RedisSurrogateIndex({ url: "redis://127.0.0.1:6379" }) })
 */
export class RedisSurrogateIndex extends BaseSurrogateIndex {
  private readonly timeout: number;
  private readonly prefix: string;
  private readonly batchSize: number;
  private readonly ownsClient: boolean;
  private readonly client: RedisSetClient;
  private connecting?: Promise<unknown>;

  constructor(options: RedisSurrogateIndexOptions = {}) {
    super();
    this.timeout = options.timeout ?? 86400;
    this.prefix = options.prefix ?? "_surrogate:";
    this.batchSize = options.batchSize ?? 500;
    if (options.client !== undefined) {
      if (!isRedisSetClient(options.client)) {
        throw new TypeError("RedisSurrogateIndex: `client` must be a node-redis client (createClient() from redis / @redis/client)");
      }
      this.client = options.client;
      this.ownsClient = false;
    } else {
      this.client = createClient({ url: options.url ?? "redis://127.0.0.1:6379" }) as unknown as RedisSetClient;
      this.ownsClient = true;
    }
  }

  /** The Redis key of a tag's set; the tag is encoded so no tag can address another's set. */
  keyOf(surrogateKey: string): string {
    return `${this.prefix}${encodeURIComponent(surrogateKey)}`;
  }

  async add(surrogateKey: string, cacheKeys: string[], ttlSeconds: number): Promise<void> {
    if (cacheKeys.length === 0) return;
    await this.ready();
    const key = this.keyOf(surrogateKey);
    const ttl = Math.max(Math.ceil(ttlSeconds), this.timeout);
    // NX sets a TTL on a new set, GT only ever lengthens an existing one.
    await this.client.multi().sAdd(key, cacheKeys).expire(key, ttl, "NX").expire(key, ttl, "GT").exec();
  }

  async getKeys(surrogateKey: string): Promise<string[]> {
    await this.ready();
    return this.client.sMembers(this.keyOf(surrogateKey));
  }

  async remove(surrogateKey: string): Promise<void> {
    await this.ready();
    await this.client.del(this.keyOf(surrogateKey));
  }

  /** Pops members in batches (SPOP count): bounded memory and short Redis commands, whatever the set size. */
  override async drain(surrogateKey: string, consume: (keys: string[]) => Promise<void>): Promise<void> {
    await this.ready();
    const key = this.keyOf(surrogateKey);
    for (;;) {
      const batch = await this.client.sPopCount(key, this.batchSize);
      if (!batch || batch.length === 0) return;
      await consume(batch);
      if (batch.length < this.batchSize) return;
    }
  }

  override async close(): Promise<void> {
    if (!this.ownsClient || !this.client.isOpen) return;
    await (this.client.close ?? this.client.quit)?.call(this.client);
  }

  private ready(): Promise<unknown> | undefined {
    if (this.client.isOpen !== false || !this.client.connect) return undefined;
    this.connecting ??= this.client.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }
}
