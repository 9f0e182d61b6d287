import type { Keyv } from "keyv";
import type { NativeTagIndex, StoreDriver } from "../stores/StoreDriver";
import { driverOfKeyv } from "../stores/openStoreDriver";
import { BaseSurrogateIndex } from "./base";
import { KeyvRecordIndex } from "./keyvRecord";

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
 * How a {@link KeyvSurrogateIndex} keeps its records: the store driver's native index, or one
 * record per tag under a per-process lock when the driver has none.
 *
 * @example
 * (backend.surrogateIndex as KeyvSurrogateIndex).strategy; // "native" on SQLite
 */
export type SurrogateIndexStrategy = "native" | "keyv-record";

/**
 * The default index: the `index` Keyv namespace, kept the way the store's driver allows without
 * ever losing a concurrent add:
 *
 * | store | records | safe across processes |
 * |---|---|---|
 * | Redis, Redis Cluster (@keyv/redis) | a sorted set per tag, on the client @keyv/redis holds | yes |
 * | SQLite, PostgreSQL | one row per (tag, member), taken with `DELETE … RETURNING` | yes |
 * | memory | a record per tag, updated synchronously | one process (as the store) |
 * | any other adapter | a record per tag under a per-tag lock | no: one process only |
 *
 * @example
 * new KeyvSurrogateIndex(new Keyv({ store: new KeyvRedis("redis://127.0.0.1:6379"), namespace: "ccp:index" }));
 */
export class KeyvSurrogateIndex extends BaseSurrogateIndex {
  private readonly records: NativeTagIndex;
  private readonly driver: StoreDriver;
  /** How the records are kept on this store. */
  readonly strategy: SurrogateIndexStrategy;

  /** `store` is a Keyv namespace, or (inside the cache) the driver whose `index` namespace to use. */
  constructor(store: Keyv | StoreDriver, options: KeyvSurrogateIndexOptions = {}) {
    super();
    const batchSize = options.batchSize ?? 500;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new TypeError(`KeyvSurrogateIndex: \`batchSize\` must be a whole number >= 1 (got ${String(options.batchSize)})`);
    }
    this.driver = isDriver(store) ? store : driverOfKeyv(store);
    const native = this.driver.createTagIndex?.(batchSize);
    this.records = native ?? new KeyvRecordIndex(this.driver.index, batchSize);
    this.strategy = native ? "native" : "keyv-record";
  }

  /** The Keyv namespace the records live in. */
  get keyv(): Keyv {
    return this.driver.index;
  }

  async add(surrogateKey: string, cacheKeys: string[], ttlSeconds: number): Promise<void> {
    await this.driver.ready();
    return this.records.add(surrogateKey, cacheKeys, ttlSeconds);
  }

  /**
   * Records `cacheKeys` under each of `surrogateKeys` (what storing one entry needs): one round
   * trip on SQL stores, one add per tag elsewhere.
   *
   * @example
   * await index.addToTags(["products", "featured"], ["=:/products"], 300);
   */
  async addToTags(surrogateKeys: readonly string[], cacheKeys: string[], ttlSeconds: number): Promise<void> {
    if (surrogateKeys.length === 0) return;
    await this.driver.ready();
    if (this.records.addToTags && surrogateKeys.length > 1) return this.records.addToTags(surrogateKeys, cacheKeys, ttlSeconds);
    await Promise.all(surrogateKeys.map((tag) => this.records.add(tag, cacheKeys, ttlSeconds)));
  }

  async getKeys(surrogateKey: string): Promise<string[]> {
    await this.driver.ready();
    return this.records.getKeys(surrogateKey);
  }

  async remove(surrogateKey: string): Promise<void> {
    await this.driver.ready();
    return this.records.remove(surrogateKey);
  }

  override async drain(surrogateKey: string, consume: (keys: string[]) => Promise<void>): Promise<void> {
    await this.driver.ready();
    return this.records.drain(surrogateKey, consume);
  }
}

function isDriver(value: Keyv | StoreDriver): value is StoreDriver {
  return typeof (value as StoreDriver).ready === "function" && (value as StoreDriver).index !== undefined && (value as StoreDriver).entries !== undefined;
}
