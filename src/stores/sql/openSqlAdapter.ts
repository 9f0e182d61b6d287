import { createRequire } from "node:module";
import type { KeyvStoreAdapter } from "keyv";
import { loadOptionalPackage } from "../loadOptionalPackage";

/**
 * A @keyv/sqlite adapter for a `sqlite://` URL: one connection for the three namespaces, a busy
 * timeout so several processes (or backends) on one file wait for each other's writes instead of
 * failing with SQLITE_BUSY, and WAL (readers never wait for a writer; a commit needs no fsync of
 * the whole journal with synchronous=NORMAL: a cache can lose its last writes in a power cut,
 * never its consistency).
 *
 * @example
 * const adapter = openSqliteAdapter("sqlite:///var/cache/pages.db");
 */
export function openSqliteAdapter(url: string): KeyvStoreAdapter & { disconnect(): Promise<void> } {
  const KeyvSqlite = loadOptionalPackage<typeof import("@keyv/sqlite")>("@keyv/sqlite", url).default;
  const adapter = new KeyvSqlite({ uri: url, busyTimeout: 10_000 });
  adapter.on("error", () => undefined);
  void adapter.query("PRAGMA journal_mode=WAL").catch(() => undefined);
  void adapter.query("PRAGMA synchronous=NORMAL").catch(() => undefined);
  return adapter as unknown as KeyvStoreAdapter & { disconnect(): Promise<void> };
}

/** The part of a `pg` Pool used here (pg ships no types of its own). */
interface PgPool {
  query(sql: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  on(event: "error", listener: (error: unknown) => void): unknown;
  end(): Promise<void>;
}

/**
 * A @keyv/postgres adapter for a `postgres://` URL with a pool of its own. @keyv/postgres keeps one
 * pool per process and ends it on any adapter's `disconnect()`, which would cut every other
 * backend on the same database; this one's `disconnect()` ends only its own pool.
 *
 * @example
 * const adapter = openPostgresAdapter("postgresql://cache@127.0.0.1:5432/app");
 */
export function openPostgresAdapter(url: string): KeyvStoreAdapter & { disconnect(): Promise<void> } {
  const KeyvPostgres = loadOptionalPackage<typeof import("@keyv/postgres")>("@keyv/postgres", url).default;
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
  return adapter as unknown as KeyvStoreAdapter & { disconnect(): Promise<void> };
}
