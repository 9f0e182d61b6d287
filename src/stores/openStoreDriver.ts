import type { Keyv, KeyvStoreAdapter } from "keyv";
import { isKeyvInstance } from "./isKeyvInstance";
import type { StoreDriver } from "./StoreDriver";
import { KeyvStoreDriver } from "./keyv/KeyvStoreDriver";
import { namespaceNames } from "./keyvNamespaces";
import { MemoryStore, type MemoryMap } from "./memory/MemoryStore";
import { MemoryStoreDriver } from "./memory/MemoryStoreDriver";
import { redactUrl } from "./redactUrl";
import { createRedisClientFromUrl, isRedisIndexClient } from "./redis/redisClient";
import { RedisStoreDriver } from "./redis/RedisStoreDriver";
import { openPostgresAdapter, openSqliteAdapter } from "./sql/openSqlAdapter";
import { SqlStoreDriver } from "./sql/SqlStoreDriver";

/**
 * What `store` may be: a Keyv adapter, a Keyv instance, a {@link MemoryStore}, a Map, or a URL
 * that picks the adapter.
 *
 * @example
 * new KeyvCacheBackend({ store: "redis://127.0.0.1:6379" });
 * new KeyvCacheBackend({ store: new KeyvSqlite({ uri: "sqlite:///tmp/c.db", busyTimeout: 5000 }) });
 */
export type KeyvStoreSpec = KeyvStoreAdapter | Keyv | MemoryStore | Map<unknown, unknown> | string;

/**
 * How a store is opened.
 *
 * @example
 * openStoreDriver(undefined, "ccp", { maxBytes: 16 * 1024 * 1024 });
 */
export interface OpenStoreOptions {
  /** Bound of the default in-memory store (a {@link MemoryStore} or Map you pass keeps its own). */
  maxBytes?: number;
}

const SCHEMES: Record<string, "redis" | "sqlite" | "postgres"> = {
  "redis:": "redis",
  "rediss:": "redis",
  "redis+cluster:": "redis",
  "rediss+cluster:": "redis",
  "sqlite:": "sqlite",
  "postgres:": "postgres",
  "postgresql:": "postgres",
};

/**
 * The adapter kind a URL names, or undefined when its scheme is not supported.
 *
 * @example
 * storeKindOfUrl("redis+cluster://h:7101,h:7102"); // "redis"
 * storeKindOfUrl("mongodb://h"); // undefined
 */
export function storeKindOfUrl(url: string): "redis" | "sqlite" | "postgres" | undefined {
  const match = /^([a-z][a-z0-9+.-]*:)/i.exec(url);
  return match ? SCHEMES[match[1].toLowerCase()] : undefined;
}

function isMemoryMap(value: unknown): value is MemoryMap {
  return value instanceof Map || value instanceof MemoryStore;
}

/**
 * The one place that picks a driver for a store. A URL or nothing opens a store of our own
 * (closed by the driver's `close()`); a given adapter, client, Map or Keyv is shared by the three
 * namespaces (`<namespace>:entries` …) and left open.
 *
 * @example
 * const driver = openStoreDriver("redis+cluster://127.0.0.1:7101,127.0.0.1:7102", "ccp");
 * await driver.ready();
 * await driver.entries.get("=:/products");
 * await driver.close();
 */
export function openStoreDriver(store: KeyvStoreSpec | undefined, namespace: string, options: OpenStoreOptions = {}): StoreDriver {
  const names = namespaceNames(namespace);
  if (store === undefined) return new MemoryStoreDriver(new MemoryStore({ maxBytes: options.maxBytes }), names);
  if (isMemoryMap(store)) return new MemoryStoreDriver(store, names);
  if (typeof store === "string") return openUrl(store, names);
  const adapter = (isKeyvInstance(store) ? store.store : store) as KeyvStoreAdapter & { client?: unknown; createKeyPrefix?: unknown };
  if (isMemoryMap(adapter)) return new MemoryStoreDriver(adapter, names);
  if (isRedisIndexClient(adapter.client) && typeof adapter.createKeyPrefix === "function") return new RedisStoreDriver(adapter.client, names, false);
  return SqlStoreDriver.on(adapter, names) ?? new KeyvStoreDriver(adapter, names);
}

function openUrl(url: string, names: ReturnType<typeof namespaceNames>): StoreDriver {
  switch (storeKindOfUrl(url)) {
    case "redis":
      return new RedisStoreDriver(createRedisClientFromUrl(url), names, true);
    case "sqlite": {
      const adapter = openSqliteAdapter(url);
      return SqlStoreDriver.on(adapter, names, () => adapter.disconnect())!;
    }
    case "postgres": {
      const adapter = openPostgresAdapter(url);
      return SqlStoreDriver.on(adapter, names, () => adapter.disconnect())!;
    }
    default:
      throw new TypeError(
        `store URL "${redactUrl(url)}" is not supported: use redis://, rediss://, redis+cluster://, sqlite:// or postgres:// (postgresql://)`,
      );
  }
}

/**
 * A driver for the store under one Keyv instance, all three namespaces being that instance's (for
 * a {@link KeyvSurrogateIndex} given a bare Keyv). Its `close()` leaves the store open.
 *
 * @example
 * const driver = driverOfKeyv(new Keyv({ store: new KeyvSqlite("sqlite:///tmp/c.db"), namespace: "ccp:index" }));
 */
export function driverOfKeyv(keyv: Keyv): StoreDriver {
  const adapter = keyv.store as KeyvStoreAdapter & { client?: unknown; createKeyPrefix?: unknown };
  const ns = keyv.namespace ?? "";
  const names = { entries: ns, index: ns, versions: ns };
  if (isMemoryMap(adapter)) return new MemoryStoreDriver(adapter, names);
  if (isRedisIndexClient(adapter.client) && typeof adapter.createKeyPrefix === "function") return new RedisStoreDriver(adapter.client, names, false);
  return SqlStoreDriver.on(adapter, names) ?? new KeyvStoreDriver(adapter, names);
}
