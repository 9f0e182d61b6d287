import { createRequire } from "node:module";
import { Keyv, type KeyvStoreAdapter } from "keyv";
import {
  closeRedisClient,
  createRedisClientFromUrl,
  ensureRedisConnected,
  isRedisCluster,
  isRedisIndexClient,
  redactUrl,
  type RedisIndexClient,
} from "../indexes/redisClient";
import { SqlKeyvTable } from "../indexes/sqlTable";

export { redactUrl };

/**
 * What `store` may be: a Keyv adapter, a Keyv instance, a Map, or a URL that picks the adapter.
 *
 * @example
 * new KeyvCacheBackend({ store: "redis://127.0.0.1:6379" });
 * new KeyvCacheBackend({ store: new KeyvSqlite({ uri: "sqlite:///tmp/c.db", busyTimeout: 5000 }) });
 */
export type KeyvStoreSpec = KeyvStoreAdapter | Keyv | Map<unknown, unknown> | string;

/**
 * What the three namespaces sit on.
 *
 * @example
 * if (backend.stores.kind === "redis-cluster") console.log("on a cluster");
 */
export type KeyvStoreKind = "memory" | "redis" | "redis-cluster" | "sqlite" | "postgres" | "other";

/**
 * The three Keyv namespaces a {@link KeyvCacheBackend} works with.
 *
 * @example
 * const stores = openKeyvStores("sqlite:///tmp/c.db", "ccp");
 * await stores.ready();
 * await stores.close();
 */
export interface KeyvStores {
  entries: Keyv;
  index: Keyv;
  versions: Keyv;
  /** True when values are kept as objects in process memory (no serialisation). */
  inMemory: boolean;
  /** What the namespaces sit on. */
  kind: KeyvStoreKind;
  /** Resolves when the store can take commands (connects a Redis client or cluster once). */
  ready(): Promise<void>;
  /** Releases what was opened from a URL (or by default); adapters and clients you passed stay open. */
  close(): Promise<void>;
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

type Names = { entries: string; index: string; versions: string };

/** The three namespaces, each opened by `open`. */
function openEach(names: Names, open: (namespace: string) => Keyv): Pick<KeyvStores, "entries" | "index" | "versions"> {
  return { entries: open(names.entries), index: open(names.index), versions: open(names.versions) };
}

/**
 * Plain JSON, and garbage (anything a foreign writer left under our keys) reads as nothing instead
 * of throwing: Keyv's default deserializer throws on it, and turns strings that start with
 * `:base64:` back into Buffers.
 */
const serialization = {
  serialize: (data: unknown) => JSON.stringify(data),
  deserialize: (text: string) => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  },
};

/**
 * Opens the entries, index and versions namespaces (`<namespace>:entries` …) on one store.
 * A URL or nothing opens a store of our own (closed by `close()`); a given adapter, client or Keyv
 * is shared by the three namespaces and left open.
 *
 * @example
 * const stores = openKeyvStores("redis+cluster://127.0.0.1:7101,127.0.0.1:7102", "ccp");
 * await stores.ready();
 * await stores.entries.get("=:/products");
 * await stores.close();
 */
export function openKeyvStores(store: KeyvStoreSpec | undefined, namespace: string): KeyvStores {
  if (typeof namespace !== "string" || !/^[A-Za-z0-9_.-]+$/.test(namespace)) {
    throw new TypeError(`namespace "${String(namespace)}" is not valid: use letters, digits, "_", "." and "-" only (e.g. "ccp" or "shop-cache")`);
  }
  const names = { entries: `${namespace}:entries`, index: `${namespace}:index`, versions: `${namespace}:versions` };
  if (store === undefined || store instanceof Map) return openMemory(store ?? new Map(), names);
  if (typeof store === "string") return openUrl(store, names);
  const adapter = (store instanceof Keyv ? store.store : store) as KeyvStoreAdapter & { client?: unknown };
  if ((adapter as unknown) instanceof Map) return openMemory(adapter as unknown as Map<unknown, unknown>, names);
  if (isRedisIndexClient(adapter.client) && typeof (adapter as { createKeyPrefix?: unknown }).createKeyPrefix === "function") {
    return openRedisOnClient(adapter.client, names, false);
  }
  return openOnAdapter(adapter, names, undefined);
}

function openMemory(map: Map<unknown, unknown>, names: Names): KeyvStores {
  const open = (ns: string) => new Keyv({ store: map, namespace: ns, serialize: undefined, deserialize: undefined });
  return {
    ...openEach(names, open),
    inMemory: true,
    kind: "memory",
    ready: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

/** The three namespaces on one shared adapter; Keyv prefixes every key with its namespace. */
function openOnAdapter(adapter: KeyvStoreAdapter, names: Names, owned: (() => Promise<void>) | undefined): KeyvStores {
  const open = (ns: string) => new Keyv({ store: adapter, namespace: ns, throwOnErrors: true, ...serialization });
  const table = SqlKeyvTable.of(adapter);
  let closed: Promise<void> | undefined;
  return {
    ...openEach(names, open),
    inMemory: false,
    kind: table ? table.dialect : "other",
    ready: () => Promise.resolve(),
    close: () => (closed ??= owned ? owned() : Promise.resolve()),
  };
}

function openUrl(url: string, names: Names): KeyvStores {
  switch (storeKindOfUrl(url)) {
    case "redis":
      return openRedisOnClient(createRedisClientFromUrl(url), names, true);
    case "sqlite": {
      const KeyvSqlite = loadOptional<typeof import("@keyv/sqlite")>("@keyv/sqlite", url).default;
      // One connection for the three namespaces; several processes (or backends) on one file wait
      // for each other's writes instead of failing with SQLITE_BUSY.
      const adapter = new KeyvSqlite({ uri: url, busyTimeout: 10_000 });
      adapter.on("error", () => undefined);
      // WAL: readers never wait for a writer and a commit needs no fsync of the whole journal
      // (synchronous=NORMAL); a cache can lose its last writes in a power cut, never its consistency.
      void adapter.query("PRAGMA journal_mode=WAL").catch(() => undefined);
      void adapter.query("PRAGMA synchronous=NORMAL").catch(() => undefined);
      return openOnAdapter(adapter as unknown as KeyvStoreAdapter, names, () => adapter.disconnect());
    }
    case "postgres": {
      const adapter = openPostgres(url);
      return openOnAdapter(adapter as unknown as KeyvStoreAdapter, names, () => adapter.disconnect());
    }
    default:
      throw new TypeError(
        `store URL "${redactUrl(url)}" is not supported: use redis://, rediss://, redis+cluster://, sqlite:// or postgres:// (postgresql://)`,
      );
  }
}

/** The part of a `pg` Pool used here (pg ships no types of its own). */
interface PgPool {
  query(sql: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  on(event: "error", listener: (error: unknown) => void): unknown;
  end(): Promise<void>;
}

/**
 * @keyv/postgres keeps one pool per process and ends it on any adapter's `disconnect()`, which
 * would cut every other backend on the same database. A backend opened from a URL gets a pool of
 * its own instead, ended by its own `close()`.
 */
function openPostgres(url: string): { disconnect(): Promise<void>; on(event: string, listener: (e: unknown) => void): unknown } {
  const KeyvPostgres = loadOptional<typeof import("@keyv/postgres")>("@keyv/postgres", url).default;
  const pg = createRequire(require.resolve("@keyv/postgres"))("pg") as { Pool: new (config: { connectionString?: string }) => PgPool };
  const pools = new WeakMap<object, PgPool>();
  class OwnPoolKeyvPostgres extends KeyvPostgres {
    override async connect() {
      const pool = new pg.Pool({ connectionString: this.opts.uri });
      // An idle connection dropped by the server must not crash the process.
      pool.on("error", (error: unknown) => this.emit("error", error));
      pools.set(this, pool);
      return async (sql: string, values?: unknown) => (await pool.query(sql, values as unknown[])).rows;
    }

    override async disconnect() {
      await pools.get(this)?.end();
    }
  }
  const adapter = new OwnPoolKeyvPostgres({ uri: url });
  adapter.on("error", () => undefined);
  return adapter;
}

function openRedisOnClient(client: RedisIndexClient, names: Names, owned: boolean): KeyvStores {
  const { default: KeyvRedis } = loadOptional<typeof import("@keyv/redis")>("@keyv/redis", "redis");
  const open = (ns: string) => {
    const adapter = new KeyvRedis(client as never, { namespace: ns, throwOnErrors: true });
    return new Keyv({ store: adapter, namespace: ns, useKeyPrefix: false, throwOnErrors: true, ...serialization });
  };
  let closed: Promise<void> | undefined;
  return {
    ...openEach(names, open),
    inMemory: false,
    kind: isRedisCluster(client) ? "redis-cluster" : "redis",
    ready: () => ensureRedisConnected(client),
    close: () => (closed ??= owned ? closeRedisClient(client) : Promise.resolve()),
  };
}

function loadOptional<T>(name: string, forWhat: string): T {
  try {
    return require(name) as T;
  } catch (error) {
    throw new TypeError(`store "${redactUrl(forWhat)}" needs the package ${name}: run \`npm install ${name}\``, { cause: error });
  }
}
