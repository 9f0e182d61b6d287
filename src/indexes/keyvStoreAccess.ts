import type { Keyv } from "keyv";
import { ensureRedisConnected, isRedisCluster, isRedisIndexClient, type RedisIndexClient } from "./redisClient";
import { SqlKeyvTable } from "./sqlTable";

/**
 * What a Keyv instance sits on, and how a key part given to that Keyv is spelled in the store
 * itself. The index and the tag versions use it to run the atomic operations Keyv's API lacks
 * (Lua on Redis, single SQL statements on SQLite / PostgreSQL, synchronous Map updates in memory).
 *
 * @example
 * const access = accessKeyvStore(keyv);
 * if (access.kind === "redis") await access.client.zCard(access.physicalKey("=products"));
 */
export type KeyvStoreAccess =
  | { kind: "memory"; map: Map<string, unknown>; physicalKey(part: string): string; partBudget: number }
  | { kind: "redis"; client: RedisIndexClient; cluster: boolean; physicalKey(part: string): string; partBudget: number }
  | { kind: "sql"; table: SqlKeyvTable; physicalKey(part: string): string; partBudget: number }
  | { kind: "other"; physicalKey(part: string): string; partBudget: number };

interface RedisAdapterLike {
  client: unknown;
  namespace?: string;
  createKeyPrefix(key: string, namespace?: string): string;
}

function isRedisAdapter(store: unknown): store is RedisAdapterLike {
  const s = store as Partial<RedisAdapterLike> | null;
  return !!s && typeof s.createKeyPrefix === "function" && isRedisIndexClient(s.client);
}

/**
 * Describes the store under `keyv`.
 *
 * @example
 * const access = accessKeyvStore(new Keyv({ store: new KeyvSqlite("sqlite:///tmp/c.db"), namespace: "ccp:index" }));
 * access.kind; // "sql"
 * access.physicalKey("=products"); // "ccp:index:=products"
 */
export function accessKeyvStore(keyv: Keyv): KeyvStoreAccess {
  const store = keyv.store as unknown;
  // Parts start with "=" or "#", so Keyv's own prefixing always applies (see keyParts.ts).
  const viaKeyv = (part: string) => keyv._getKeyPrefix(part);
  if (store instanceof Map) return { kind: "memory", map: store as Map<string, unknown>, physicalKey: viaKeyv, partBudget: Infinity };
  if (isRedisAdapter(store)) {
    const client = store.client as RedisIndexClient;
    return {
      kind: "redis",
      client,
      cluster: isRedisCluster(client),
      physicalKey: (part) => store.createKeyPrefix(viaKeyv(part), store.namespace),
      partBudget: Infinity,
    };
  }
  const table = SqlKeyvTable.of(store);
  if (table) {
    const prefixLength = viaKeyv("").length;
    return { kind: "sql", table, physicalKey: viaKeyv, partBudget: table.keySize - prefixLength };
  }
  return { kind: "other", physicalKey: viaKeyv, partBudget: Infinity };
}

/**
 * Waits until the store's client can take commands (connects a Redis client once).
 *
 * @example
 * await storeReady(accessKeyvStore(keyv));
 */
export function storeReady(access: KeyvStoreAccess): Promise<void> {
  return access.kind === "redis" ? ensureRedisConnected(access.client) : Promise.resolve();
}
