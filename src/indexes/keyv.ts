import type { Keyv } from "keyv";
import { BaseSurrogateIndex } from "./base";
import { accessKeyvStore, storeReady, type KeyvStoreAccess } from "./keyvStoreAccess";
import { KeyvRecordIndex } from "./keyvRecord";
import { MemoryMembershipIndex } from "./memory";
import { RedisSurrogateIndex } from "./redis";
import { SqlMembershipIndex } from "./sql";

/**
 * Options of {@link KeyvSurrogateIndex}.
 *
 * @example
 * new KeyvSurrogateIndex(new Keyv({ store: new KeyvSqlite("sqlite:///tmp/c.db"), namespace: "ccp:index" }), { batchSize: 1000 });
 */
export interface KeyvSurrogateIndexOptions {
  /** How many cache keys one invalidation step takes (default 500). */
  batchSize?: number;
}

/**
 * How a {@link KeyvSurrogateIndex} keeps its records, by store.
 *
 * @example
 * (backend.surrogateIndex as KeyvSurrogateIndex).strategy; // "sql-rows" on SQLite
 */
export type SurrogateIndexStrategy = "redis-sorted-sets" | "sql-rows" | "memory" | "keyv-record";

/**
 * The default index: the `index` Keyv namespace, kept the way the store under it allows without
 * ever losing a concurrent add:
 *
 * | store | records | safe across processes |
 * |---|---|---|
 * | Redis, Redis Cluster (@keyv/redis) | a sorted set per tag, on the client @keyv/redis holds | yes |
 * | SQLite, PostgreSQL | one row per (tag, cache key), taken with `DELETE … RETURNING` | yes |
 * | memory (a Map) | a record per tag, updated synchronously | one process (as the Map) |
 * | any other adapter | a record per tag under a per-tag lock | no: one process only |
 *
 * @example
 * new KeyvCacheBackend({ store: "redis://127.0.0.1:6379" }) // uses KeyvSurrogateIndex with Redis sorted sets
 */
export class KeyvSurrogateIndex extends BaseSurrogateIndex {
  private readonly impl: BaseSurrogateIndex;
  private readonly access: KeyvStoreAccess;
  /** How the records are kept on this store. */
  readonly strategy: SurrogateIndexStrategy;

  constructor(
    readonly keyv: Keyv,
    options: KeyvSurrogateIndexOptions = {},
  ) {
    super();
    const batchSize = options.batchSize ?? 500;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new TypeError(`KeyvSurrogateIndex: \`batchSize\` must be a whole number >= 1 (got ${String(options.batchSize)})`);
    }
    this.access = accessKeyvStore(keyv);
    switch (this.access.kind) {
      case "redis":
        // timeout 1: a set lives exactly as long as its longest member needs.
        this.impl = new RedisSurrogateIndex({ client: this.access.client, prefix: this.access.physicalKey(""), timeout: 1, batchSize });
        this.strategy = "redis-sorted-sets";
        break;
      case "sql":
        this.impl = new SqlMembershipIndex(this.access.table, this.access.physicalKey, this.access.partBudget, batchSize);
        this.strategy = "sql-rows";
        break;
      case "memory":
        this.impl = new MemoryMembershipIndex(this.access.map, this.access.physicalKey, batchSize);
        this.strategy = "memory";
        break;
      default:
        this.impl = new KeyvRecordIndex(keyv);
        this.strategy = "keyv-record";
    }
  }

  /** True when native Redis sets are in use. */
  get usesRedisSets(): boolean {
    return this.strategy === "redis-sorted-sets";
  }

  async add(surrogateKey: string, cacheKeys: string[], ttlSeconds: number): Promise<void> {
    await storeReady(this.access);
    return this.impl.add(surrogateKey, cacheKeys, ttlSeconds);
  }

  async getKeys(surrogateKey: string): Promise<string[]> {
    await storeReady(this.access);
    return this.impl.getKeys(surrogateKey);
  }

  async remove(surrogateKey: string): Promise<void> {
    await storeReady(this.access);
    return this.impl.remove(surrogateKey);
  }

  override async drain(surrogateKey: string, consume: (keys: string[]) => Promise<void>): Promise<void> {
    await storeReady(this.access);
    return this.impl.drain(surrogateKey, consume);
  }
}
