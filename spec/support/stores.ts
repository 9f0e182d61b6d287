import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, createCluster } from "@keyv/redis";
import { KeyvCacheBackend, type KeyvCacheBackendOptions } from "../../src/backends/keyv";
import type { KeyvStoreSpec } from "../../src/backends/openKeyvStores";
import { ensureRedisCluster, REDIS_CLUSTER_URL, stopRedisCluster } from "./redisCluster";

/**
 * The stores every shared behaviour spec runs against. A store that does not answer is skipped
 * with a printed reason, except when the CI environment variable is set: then it fails.
 */
export type StoreName = "memory" | "redis" | "redis-cluster" | "sqlite" | "postgres";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

export interface StoreCase {
  name: StoreName;
  /** True when several processes can share the store (everything but memory). */
  shared: boolean;
  /** The `store` option; every call points at the same data (a new backend sees old entries). */
  store(): KeyvStoreSpec;
  /** Deletes every key of `namespace` (and its sub-namespaces). */
  clear(namespace: string): Promise<void>;
}

const memoryMap = new Map<unknown, unknown>();
let sqliteDir: string | undefined;

function sqliteUrl(): string {
  sqliteDir ??= mkdtempSync(join(tmpdir(), "ccp-sqlite-"));
  return `sqlite://${join(sqliteDir, "cache.db")}`;
}

async function clearRedis(url: string, namespace: string): Promise<void> {
  const cluster = url.includes("+cluster:");
  const client = cluster
    ? createCluster({
        rootNodes: url
          .replace(/^redis\+cluster:\/\//, "")
          .split(",")
          .map((h) => ({ url: `redis://${h}` })),
      })
    : createClient({ url });
  await client.connect();
  try {
    const nodes = cluster
      ? await Promise.all(
          (client as unknown as ReturnType<typeof createCluster>).masters.map((m) => (client as unknown as ReturnType<typeof createCluster>).nodeClient(m)),
        )
      : [client as unknown as ReturnType<typeof createClient>];
    for (const node of nodes) {
      let cursor = "0";
      do {
        const reply = await node.scan(cursor, { MATCH: `${namespace}:*`, COUNT: 1000 });
        cursor = String(reply.cursor);
        // One key per command: keys of one SCAN page may live in different slots.
        await Promise.all(reply.keys.map((k) => node.unlink(k)));
      } while (cursor !== "0");
    }
  } finally {
    await client.close();
  }
}

type PgPool = { query(sql: string, values?: unknown[]): Promise<{ rows: any[] }>; end(): Promise<void> };
function pgPool(): PgPool {
  const pg = createRequire(require.resolve("@keyv/postgres"))("pg") as { Pool: new (o: object) => PgPool };
  return new pg.Pool({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000, max: 2 });
}

export const STORE_CASES: StoreCase[] = [
  {
    name: "memory",
    shared: false,
    store: () => memoryMap,
    clear: async (ns) => {
      for (const k of [...memoryMap.keys()]) if (String(k).startsWith(`${ns}:`)) memoryMap.delete(k);
    },
  },
  { name: "redis", shared: true, store: () => REDIS_URL, clear: (ns) => clearRedis(REDIS_URL, ns) },
  { name: "redis-cluster", shared: true, store: () => REDIS_CLUSTER_URL, clear: (ns) => clearRedis(REDIS_CLUSTER_URL, ns) },
  {
    name: "sqlite",
    shared: true,
    store: () => sqliteUrl(),
    clear: async (ns) => {
      // The file lives in a temp directory removed at the end of the run; rows of one namespace go now.
      const sqlite3 = require("sqlite3") as typeof import("sqlite3");
      const db = new sqlite3.Database(sqliteUrl().replace(/^sqlite:\/\//, ""));
      await new Promise<void>((resolve, reject) =>
        db.run("DELETE FROM keyv WHERE key >= ? AND key < ?", [`${ns}:`, `${ns};`], (e) => (e && !/no such table/.test(e.message) ? reject(e) : resolve())),
      );
      await new Promise<void>((resolve) => db.close(() => resolve()));
    },
  },
  {
    name: "postgres",
    shared: true,
    store: () => POSTGRES_URL,
    clear: async (ns) => {
      const pool = pgPool();
      try {
        await pool.query("DELETE FROM public.keyv WHERE starts_with(key, $1)", [`${ns}:`]);
      } catch (error) {
        if (!/does not exist/.test((error as Error).message)) throw error;
      } finally {
        await pool.end();
      }
    },
  },
];

/** The store case named `name`. */
export function storeCase(name: StoreName): StoreCase {
  return STORE_CASES.find((c) => c.name === name)!;
}

const availability = new Map<StoreName, Promise<string | undefined>>();

async function probe(name: StoreName): Promise<string | undefined> {
  try {
    switch (name) {
      case "memory":
        return undefined;
      case "redis": {
        const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 1000, reconnectStrategy: false } });
        client.on("error", () => undefined);
        await client.connect();
        await client.ping();
        await client.close();
        return undefined;
      }
      case "redis-cluster":
        return await ensureRedisCluster();
      case "sqlite": {
        require("sqlite3");
        return undefined;
      }
      case "postgres": {
        const pool = pgPool();
        try {
          await pool.query("SELECT 1");
        } finally {
          await pool.end();
        }
        return undefined;
      }
    }
  } catch (error) {
    return (error as Error).message || String(error);
  }
}

/** Why the store cannot be used here, or undefined when it answers (checked once per run). */
export function storeUnavailable(name: StoreName): Promise<string | undefined> {
  let pending = availability.get(name);
  if (!pending) availability.set(name, (pending = probe(name)));
  return pending;
}

/**
 * Registers a `before` hook on the current suite: skips it (saying why) when the store does not
 * answer, or fails it when the CI environment variable is set.
 */
export function requireStore(name: StoreName): void {
  before(async function () {
    this.timeout(30000);
    const reason = await storeUnavailable(name);
    if (reason === undefined) return;
    const suite = this.test?.parent?.fullTitle() ?? name;
    if (process.env.CI) throw new Error(`${suite}: the ${name} store must be reachable in CI but is not: ${reason}`);
    console.log(`      [skipped] ${suite}: the ${name} store is not reachable (${reason})`);
    this.skip();
  });
}

let counter = 0;
/** A namespace no other run or test uses. */
export function uniqueNamespace(label: string): string {
  counter += 1;
  return `ccpt-${process.pid}-${Date.now().toString(36)}-${counter}-${label}`.replace(/[^A-Za-z0-9_.-]/g, "-");
}

/**
 * Opens backends on one store under one fresh namespace and closes and clears them afterwards:
 * call `open()` in tests, `dispose()` in an `after`/`afterEach` hook.
 */
export class BackendPool {
  readonly namespace: string;
  private readonly open_: KeyvCacheBackend[] = [];

  constructor(
    readonly storeCase: StoreCase,
    label: string,
  ) {
    this.namespace = uniqueNamespace(`${storeCase.name}-${label}`);
  }

  /** A new backend object on the same store and namespace (like another process would have). */
  open(options: Partial<KeyvCacheBackendOptions> = {}): KeyvCacheBackend {
    const backend = new KeyvCacheBackend({ store: this.storeCase.store(), namespace: this.namespace, prune: false, ...options });
    this.open_.push(backend);
    return backend;
  }

  async dispose(): Promise<void> {
    const backends = this.open_.splice(0);
    await Promise.allSettled(backends.map((b) => b.close()));
    await this.storeCase.clear(this.namespace);
  }
}

// Remove what this run created: the SQLite directory and a cluster the tests started themselves.
after(async function () {
  this.timeout(20000);
  if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
  if (!process.env.KEEP_REDIS_CLUSTER) await stopRedisCluster();
});
