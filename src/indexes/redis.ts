import { RETENTION_SLACK_MS } from "../stores/retention";
import { closeRedisClient, createRedisClientFromUrl, isRedisIndexClient, type RedisIndexClient } from "../stores/redis/redisClient";
import { RedisTagIndex } from "../stores/redis/RedisTagIndex";
import { tagPart } from "../stores/keyParts";
import { BaseSurrogateIndex } from "./base";

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
export const INDEX_SLACK_MS = RETENTION_SLACK_MS;

/**
 * A surrogate index in native Redis sorted sets, one per tag, on a Redis of your choice (the
 * default {@link KeyvSurrogateIndex} already uses sorted sets when the store is Redis). A member's
 * score is the time until which it must be remembered; concurrent adds from any number of
 * processes are never lost, a set never expires before an entry it points to, and members whose
 * entries are gone are trimmed. Every command touches one key, so it works on a Redis Cluster.
 *
 * @example
 * new KeyvCacheBackend({ store: "redis://127.0.0.1:6379", surrogateIndex: new RedisSurrogateIndex({ url: "redis://127.0.0.1:6379" }) })
 */
export class RedisSurrogateIndex extends BaseSurrogateIndex {
  private readonly ownsClient: boolean;
  private readonly sets: RedisTagIndex;
  private readonly prefix: string;
  readonly client: RedisIndexClient;

  constructor(options: RedisSurrogateIndexOptions = {}) {
    super();
    const timeout = options.timeout ?? 86400;
    const batchSize = options.batchSize ?? 500;
    this.prefix = options.prefix ?? "_surrogate:";
    if (!(timeout > 0)) throw new TypeError(`RedisSurrogateIndex: \`timeout\` must be a positive number of seconds (got ${String(options.timeout)})`);
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new TypeError(`RedisSurrogateIndex: \`batchSize\` must be a whole number >= 1 (got ${String(options.batchSize)})`);
    }
    if (options.client !== undefined) {
      if (!isRedisIndexClient(options.client)) {
        throw new TypeError(
          "RedisSurrogateIndex: `client` must be a node-redis v5 client or cluster (createClient() / createCluster() from redis, @redis/client or @keyv/redis)",
        );
      }
      this.client = options.client;
      this.ownsClient = false;
    } else {
      this.client = createRedisClientFromUrl(options.url ?? "redis://127.0.0.1:6379");
      this.ownsClient = true;
    }
    this.sets = new RedisTagIndex(this.client, (tag) => this.keyOf(tag), timeout, batchSize);
  }

  /** The Redis key of a tag's set; the tag is percent-encoded (hashed when it is not valid text) so no tag can address another's set. */
  keyOf(surrogateKey: string): string {
    return `${this.prefix}${tagPart(surrogateKey).replace(/^=/, "")}`;
  }

  add(surrogateKey: string, cacheKeys: string[], ttlSeconds: number): Promise<void> {
    return this.sets.add(surrogateKey, cacheKeys, ttlSeconds);
  }

  getKeys(surrogateKey: string): Promise<string[]> {
    return this.sets.getKeys(surrogateKey);
  }

  remove(surrogateKey: string): Promise<void> {
    return this.sets.remove(surrogateKey);
  }

  override drain(surrogateKey: string, consume: (keys: string[]) => Promise<void>): Promise<void> {
    return this.sets.drain(surrogateKey, consume);
  }

  override async close(): Promise<void> {
    if (this.ownsClient) await closeRedisClient(this.client);
  }
}
