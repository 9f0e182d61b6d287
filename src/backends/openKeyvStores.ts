import { Keyv, type KeyvStoreAdapter } from "keyv";

/** What `store` may be: a Keyv adapter, a Keyv instance, or a URL that picks the adapter. */
export type KeyvStoreSpec = KeyvStoreAdapter | Keyv | Map<unknown, unknown> | string;

/** The three Keyv namespaces a {@link KeyvCacheBackend} works with. */
export interface KeyvStores {
  entries: Keyv;
  index: Keyv;
  versions: Keyv;
  /** True when values are kept as objects in process memory (no serialisation). */
  inMemory: boolean;
}

const SCHEMES: Record<string, "redis" | "sqlite" | "postgres"> = {
  "redis:": "redis",
  "rediss:": "redis",
  "sqlite:": "sqlite",
  "postgres:": "postgres",
  "postgresql:": "postgres",
};

/** The adapter kind a URL names, or undefined when its scheme is not supported. */
export function storeKindOfUrl(url: string): "redis" | "sqlite" | "postgres" | undefined {
  const match = /^([a-z][a-z0-9+.-]*:)/i.exec(url);
  return match ? SCHEMES[match[1].toLowerCase()] : undefined;
}

/**
 * Opens the entries, index and versions namespaces (`<namespace>:entries` ...) on one store.
 * A URL or nothing opens adapters of our own; a given adapter or Keyv is shared by the three.
 */
export function openKeyvStores(store: KeyvStoreSpec | undefined, namespace: string): KeyvStores {
  const names = { entries: `${namespace}:entries`, index: `${namespace}:index`, versions: `${namespace}:versions` };
  if (store === undefined || store instanceof Map) {
    const map = store ?? new Map();
    const open = (ns: string) => new Keyv({ store: map, namespace: ns, serialize: undefined, deserialize: undefined });
    return { entries: open(names.entries), index: open(names.index), versions: open(names.versions), inMemory: true };
  }
  if (typeof store === "string") return openUrl(store, names);
  const adapter = (store instanceof Keyv ? store.store : store) as KeyvStoreAdapter & { client?: unknown };
  if (adapter instanceof Map) return openKeyvStores(adapter, namespace);
  const redisClient = adapter.client;
  if (redisClient && adapter.constructor?.name === "KeyvRedis") return openRedisOnClient(redisClient, names);
  // Any other adapter: the three namespaces share it; Keyv prefixes every key with its namespace.
  const open = (ns: string) => new Keyv({ store: adapter, namespace: ns });
  return { entries: open(names.entries), index: open(names.index), versions: open(names.versions), inMemory: false };
}

type Names = { entries: string; index: string; versions: string };

function openUrl(url: string, names: Names): KeyvStores {
  const kind = storeKindOfUrl(url);
  switch (kind) {
    case "redis": {
      const { createClient } = loadOptional<typeof import("@keyv/redis")>("@keyv/redis", url);
      return openRedisOnClient(createClient({ url }), names);
    }
    case "sqlite": {
      const KeyvSqlite = loadOptional<typeof import("@keyv/sqlite")>("@keyv/sqlite", url).default;
      const open = (ns: string) => new Keyv({ store: new KeyvSqlite({ uri: url }), namespace: ns });
      return { entries: open(names.entries), index: open(names.index), versions: open(names.versions), inMemory: false };
    }
    case "postgres": {
      const KeyvPostgres = loadOptional<typeof import("@keyv/postgres")>("@keyv/postgres", url).default;
      const open = (ns: string) => new Keyv({ store: new KeyvPostgres({ uri: url }), namespace: ns });
      return { entries: open(names.entries), index: open(names.index), versions: open(names.versions), inMemory: false };
    }
    default:
      throw new TypeError(`store URL "${redactUrl(url)}" is not supported: use redis://, rediss://, sqlite:// or postgres:// (postgresql://)`);
  }
}

function openRedisOnClient(client: unknown, names: Names): KeyvStores {
  const { default: KeyvRedis } = loadOptional<typeof import("@keyv/redis")>("@keyv/redis", "redis");
  const open = (ns: string) =>
    new Keyv({ store: new KeyvRedis(client as never, { namespace: ns }), namespace: ns, useKeyPrefix: false });
  return { entries: open(names.entries), index: open(names.index), versions: open(names.versions), inMemory: false };
}

function loadOptional<T>(name: string, forWhat: string): T {
  try {
    return require(name) as T;
  } catch (error) {
    throw new TypeError(`store "${redactUrl(forWhat)}" needs the package ${name}: run \`npm install ${name}\``, { cause: error });
  }
}

/** A URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}
