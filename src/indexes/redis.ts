import { BaseSurrogateIndex } from "./base";
import { closeRedisClient, createRedisClientFromUrl, ensureRedisConnected, isRedisIndexClient, type RedisIndexClient } from "./redisClient";
import { INDEX_ADD_SCRIPT } from "./redisScripts";

/**
 * Options of {@link RedisSurrogateIndex}.
 *
 * @example
 * new RedisSurrogateIndex({ url: "redis+cluster://127.0.0.1:7101,127.0.0.1:7102", prefix: "shop:tags:", batchSize: 1000 });
 */
export interface RedisSurrogateIndexOptions {
  /**
   * Redis URL; used when no `client` is given. Default `redis://127.0.0.1:6379`.
   * `redis+cluster://host:port[,host:port…]` opens a Redis Cluster client.
   */
  url?: string;
  /** An existing node-redis client or cluster (e.g. the one @keyv/redis holds). */
  client?: unknown;
  /** Minimum lifetime of an index set, seconds (default 86400); it grows with the entries it holds. */
  timeout?: number;
  /** Key prefix of the index sets (default `_surrogate:`). */
  prefix?: string;
  /** How many members one invalidation step takes (default 500). */
  batchSize?: number;
}

/**
 * How much longer than its entry a membership is remembered: covers clock differences between
 * cluster nodes (the entry and the set may live on different nodes).
 *
 * @example
 * // an entry stored for 300 s is remembered by the index for 360 s
 */
export const INDEX_SLACK_MS = 60_000;

/** Expired members trimmed per add, at most: keeps every add O(log n) and bounded. */
const TRIM_PER_ADD = 100;

/**
 * A surrogate index in native Redis sorted sets, one per tag: a member's score is the time until
 * which it must be remembered. Adds are one Lua script per tag (ZADD GT, trim, EXPIRE NX + GT), so
 * concurrent adds from any number of processes are never lost, a set never expires before an entry
 * it points to, its TTL only grows, and members whose entries are gone are trimmed. Invalidation
 * takes members with ZPOPMIN in batches: short commands and bounded memory whatever the set size.
 * Every command touches one key, so it works unchanged on a Redis Cluster.
 *
 * @example
 * new KeyvCacheBackend({ store: "redis://127.0.0.1:6379", surrogateIndex: new RedisSurrogateIndex({ url: "redis://127.0.0.1:6379" }) })
 */
export class RedisSurrogateIndex extends BaseSurrogateIndex {
  private readonly timeout: number;
  private readonly prefix: string;
  private readonly batchSize: number;
  private readonly ownsClient: boolean;
  readonly client: RedisIndexClient;

  constructor(options: RedisSurrogateIndexOptions = {}) {
    super();
    this.timeout = options.timeout ?? 86400;
    this.prefix = options.prefix ?? "_surrogate:";
    this.batchSize = options.batchSize ?? 500;
    if (!(this.timeout > 0)) throw new TypeError(`RedisSurrogateIndex: \`timeout\` must be a positive number of seconds (got ${String(options.timeout)})`);
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new TypeError(`RedisSurrogateIndex: \`batchSize\` must be a whole number >= 1 (got ${String(options.batchSize)})`);
    }
    if (options.client !== undefined) {
      if (!isRedisIndexClient(options.client)) {
        throw new TypeError("RedisSurrogateIndex: `client` must be a node-redis v5 client or cluster (createClient() / createCluster() from redis, @redis/client or @keyv/redis)");
      }
      this.client = options.client;
      this.ownsClient = false;
    } else {
      this.client = createRedisClientFromUrl(options.url ?? "redis://127.0.0.1:6379");
      this.ownsClient = true;
    }
  }

  /** The Redis key of a tag's set; the tag is percent-encoded so no tag can address another's set. */
  keyOf(surrogateKey: string): string {
    return `${this.prefix}${encodeURIComponent(surrogateKey)}`;
  }

  async add(surrogateKey: string, cacheKeys: string[], ttlSeconds: number): Promise<void> {
    if (cacheKeys.length === 0) return;
    await ensureRedisConnected(this.client);
    const memberMs = Math.ceil(ttlSeconds * 1000) + INDEX_SLACK_MS;
    const keySeconds = Math.max(Math.ceil(memberMs / 1000), Math.ceil(this.timeout));
    for (let i = 0; i < cacheKeys.length; i += 1000) {
      await INDEX_ADD_SCRIPT.run(this.client, [this.keyOf(surrogateKey)], [String(memberMs), String(keySeconds), String(TRIM_PER_ADD), ...cacheKeys.slice(i, i + 1000)]);
    }
  }

  async getKeys(surrogateKey: string): Promise<string[]> {
    await ensureRedisConnected(this.client);
    return this.client.zRange(this.keyOf(surrogateKey), 0, -1);
  }

  async remove(surrogateKey: string): Promise<void> {
    await ensureRedisConnected(this.client);
    await this.client.unlink(this.keyOf(surrogateKey));
  }

  /**
   * Pops members (ZPOPMIN count) in batches of `batchSize`, at most as many as the set held when
   * the drain began: a tag that keeps receiving entries cannot keep an invalidation running.
   * Members added meanwhile either stay in the set or are handed out (their entry already written,
   * since the backend writes an entry before its membership), never lost.
   */
  override async drain(surrogateKey: string, consume: (keys: string[]) => Promise<void>): Promise<void> {
    await ensureRedisConnected(this.client);
    const key = this.keyOf(surrogateKey);
    let budget = await this.client.zCard(key);
    while (budget > 0) {
      const popped = await this.client.zPopMinCount(key, Math.min(this.batchSize, budget));
      if (popped.length === 0) return;
      budget -= popped.length;
      await consume(popped.map((p) => p.value));
    }
  }

  override async close(): Promise<void> {
    if (this.ownsClient) await closeRedisClient(this.client);
  }
}
