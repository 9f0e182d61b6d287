/**
 * The statements the cache runs directly on the table of a @keyv/sqlite or @keyv/postgres adapter,
 * through the adapter's own `query`. Keyv's API has no atomic read-modify-write, no "take these
 * rows" and no prefix scan; these statements give them, each as one SQL statement (so atomic),
 * each bounded by a LIMIT. Rows keep Keyv's format (`{"value":…,"expires":…}` as text), so Keyv
 * reads everything written here.
 */

/**
 * One row of a Keyv table.
 *
 * @example
 * const rows: SqlRow[] = await table.popPrefix("ccp:index:=products:", 500);
 */
export interface SqlRow {
  key: string;
  value: string;
}

/** What the cache needs of @keyv/sqlite or @keyv/postgres. */
interface SqlAdapter {
  opts: { dialect?: string; table?: string; schema?: string; keySize?: number };
  query(sql: string, ...params: unknown[]): Promise<unknown[]>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

// Keyv writes `{"value":…,"expires":N}`: the expiry is the last field, so reading it from the
// tail avoids parsing a whole (possibly large) entry; anything else gives NULL ("never expires").
const PG_EXPIRES = (column: string) => `substring(right(${column}, 40) from '"expires":([0-9]{1,18})}$')::bigint`;
const PG_VERSION = (column: string) => `substring(${column} from '^\\{"value":([0-9]{1,18})[,}]')::bigint`;
/** Keys in [$1, $2) in byte order: the keys starting with a prefix ending in ":" (see upper()). */
const PG_IN_RANGE = `key COLLATE "C" >= $1 AND key COLLATE "C" < $2`;
const PG_NOW_US = "floor(extract(epoch from clock_timestamp()) * 1000000)::bigint";
const SQLITE_EXPIRES = (column: string) => `(CASE WHEN json_valid(${column}) THEN json_extract(${column}, '$.expires') END)`;
const SQLITE_VERSION = (column: string) =>
  `(CASE WHEN json_valid(${column}) THEN CASE WHEN json_type(${column}, '$.value') = 'integer' THEN json_extract(${column}, '$.value') END END)`;

const tables = new WeakMap<object, SqlKeyvTable>();

/** What a version statement returns: the version, the "versioned" mark, the expiry (ms). */
interface VersionRow {
  v: number | string;
  f: unknown;
  e?: number | string | null;
}

/** PostgreSQL's SQLSTATE for "deadlock detected". */
const PG_DEADLOCK = "40P01";
/** How many times a statement PostgreSQL ended as a deadlock victim is tried in all. */
const DEADLOCK_ATTEMPTS = 4;

/** The one order every statement here locks rows in (JavaScript's string order). */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function inKeyOrder(keys: readonly string[]): string[] {
  return [...new Set(keys)].sort(compareKeys);
}

/**
 * The keys of `table` among the text array `$1` (given in key order), locked in that order: a
 * statement deleting them locks rows as {@link SqlKeyvTable.upsertGrowing} does, so the two never
 * wait on each other crosswise (PostgreSQL).
 */
function pgKeysLockedInOrder(table: string): string {
  return `SELECT t.key FROM ${table} t JOIN UNNEST($1::text[]) WITH ORDINALITY AS u(k, i) ON t.key = u.k ORDER BY u.i FOR UPDATE OF t`;
}

/**
 * The table behind a SQL Keyv adapter.
 *
 * @example
 * const table = SqlKeyvTable.of(new KeyvSqlite({ uri: "sqlite:///var/cache/pages.db" }));
 * await table?.popPrefix("ccp:index:=products:", 500);
 */
export class SqlKeyvTable {
  readonly dialect: "sqlite" | "postgres";
  /** Longest key the table's key column holds (the adapter's `keySize`, default 255). */
  readonly keySize: number;
  private readonly table: string;

  private constructor(private readonly adapter: SqlAdapter) {
    this.dialect = adapter.opts.dialect === "postgres" ? "postgres" : "sqlite";
    this.keySize = Number(adapter.opts.keySize ?? 255);
    const table = String(adapter.opts.table ?? "keyv");
    const schema = String(adapter.opts.schema ?? "public");
    for (const [what, name] of this.dialect === "postgres"
      ? [
          ["table", table],
          ["schema", schema],
        ]
      : [["table", table]]) {
      if (!IDENTIFIER.test(name)) {
        throw new TypeError(
          `the ${this.dialect} store's ${what} "${name}" must be a plain SQL identifier (letters, digits and "_", not starting with a digit); choose another \`${what}\` option`,
        );
      }
    }
    this.table = this.dialect === "postgres" ? `${schema}.${table}` : table;
  }

  /** The table of `adapter` when it is a @keyv/sqlite or @keyv/postgres adapter, else undefined. */
  static of(adapter: unknown): SqlKeyvTable | undefined {
    if (!adapter || typeof adapter !== "object") return undefined;
    const known = tables.get(adapter);
    if (known) return known;
    const a = adapter as Partial<SqlAdapter>;
    const dialect = a.opts?.dialect;
    if (typeof a.query !== "function" || (dialect !== "sqlite" && dialect !== "postgres")) return undefined;
    const table = new SqlKeyvTable(a as SqlAdapter);
    tables.set(adapter, table);
    return table;
  }

  private prefixIndex?: Promise<void>;

  /**
   * PostgreSQL compares keys with the database's collation, under which a prefix's keys need not
   * be contiguous, and then cannot use the primary key for a prefix scan: every batch of an
   * invalidation would read the whole table. The cache adds one index, `<table>_ccp_key_c`, on
   * the key in byte order ("C" collation), built CONCURRENTLY (writers are not blocked) the first
   * time a prefix is scanned, and compares in that collation. Without the right to create it the
   * statements stay correct, only slower.
   */
  private ensurePrefixIndex(): Promise<void> {
    if (this.dialect !== "postgres") return Promise.resolve();
    const table = String(this.adapter.opts.table ?? "keyv");
    this.prefixIndex ??= this.run(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${table}_ccp_key_c ON ${this.table} ((key COLLATE "C"))`, []).then(
      () => undefined,
      () => undefined,
    );
    return this.prefixIndex;
  }

  /**
   * Runs one statement (each is a transaction of its own). PostgreSQL may still end one of two
   * statements that wait on each other's rows with "deadlock detected" (40P01); it then undid
   * nothing but that statement, so it is run again, a few times, after a short random pause.
   */
  private async run<T>(sql: string, params: unknown[]): Promise<T[]> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const rows = await this.adapter.query(sql, params);
        return (Array.isArray(rows) ? rows : []) as T[];
      } catch (error) {
        if (attempt >= DEADLOCK_ATTEMPTS || (error as { code?: unknown } | null)?.code !== PG_DEADLOCK) throw error;
        await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 10 * attempt));
      }
    }
  }

  /** The exclusive upper bound of the keys starting with `prefix` (which ends with ":"), in byte order. */
  private static upper(prefix: string): string {
    if (!prefix.endsWith(":")) throw new Error(`internal: a scanned prefix must end with ":" (got "${prefix}")`);
    return `${prefix.slice(0, -1)};`;
  }

  /**
   * Inserts rows, or replaces an existing row only when the new one expires later: an expiry
   * recorded here only ever grows, whatever the order concurrent writers arrive in.
   */
  async upsertGrowing(rows: SqlRow[]): Promise<void> {
    // In key order: two statements locking rows in one order never deadlock (PostgreSQL).
    const unique = [...new Map(rows.map((r) => [r.key, r])).values()].sort((a, b) => compareKeys(a.key, b.key));
    for (let i = 0; i < unique.length; i += 500) {
      const batch = unique.slice(i, i + 500);
      if (this.dialect === "postgres") {
        await this.run(
          `INSERT INTO ${this.table} AS t (key, value) SELECT * FROM UNNEST($1::text[], $2::text[])
           ON CONFLICT (key) DO UPDATE SET value = excluded.value
           WHERE COALESCE(${PG_EXPIRES("t.value")}, 0) < COALESCE(${PG_EXPIRES("excluded.value")}, 0)`,
          [batch.map((r) => r.key), batch.map((r) => r.value)],
        );
      } else {
        await this.run(
          `INSERT INTO ${this.table} (key, value)
           SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]') FROM json_each(?) AS j WHERE true
           ON CONFLICT(key) DO UPDATE SET value = excluded.value
           WHERE coalesce(${SQLITE_EXPIRES(`${this.table}.value`)}, 0) < coalesce(${SQLITE_EXPIRES("excluded.value")}, 0)`,
          [JSON.stringify(batch.map((r) => [r.key, r.value]))],
        );
      }
    }
  }

  /** Deletes and returns up to `limit` rows whose key starts with `prefix`; concurrent callers never get the same row. */
  async popPrefix(prefix: string, limit: number): Promise<SqlRow[]> {
    if (this.dialect === "postgres") {
      await this.ensurePrefixIndex();
      return this.run<SqlRow>(
        `DELETE FROM ${this.table} WHERE key IN (SELECT key FROM ${this.table} WHERE ${PG_IN_RANGE} LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING key, value`,
        [prefix, SqlKeyvTable.upper(prefix), limit],
      );
    }
    return this.run<SqlRow>(`DELETE FROM ${this.table} WHERE key IN (SELECT key FROM ${this.table} WHERE key >= ? AND key < ? LIMIT ?) RETURNING key, value`, [
      prefix,
      SqlKeyvTable.upper(prefix),
      limit,
    ]);
  }

  /** Up to `limit` rows whose key starts with `prefix`, in key order, after `after` (exclusive). */
  async scanPrefix(prefix: string, after: string | undefined, limit: number): Promise<SqlRow[]> {
    if (this.dialect === "postgres") {
      await this.ensurePrefixIndex();
      return this.run<SqlRow>(`SELECT key, value FROM ${this.table} WHERE key COLLATE "C" > $1 AND key COLLATE "C" < $2 ORDER BY key COLLATE "C" LIMIT $3`, [
        after ?? prefix.slice(0, -1),
        SqlKeyvTable.upper(prefix),
        limit,
      ]);
    }
    return this.run<SqlRow>(`SELECT key, value FROM ${this.table} WHERE key > ? AND key < ? ORDER BY key LIMIT ?`, [
      after ?? prefix.slice(0, -1),
      SqlKeyvTable.upper(prefix),
      limit,
    ]);
  }

  /** How many rows have a key starting with `prefix`. */
  async countPrefix(prefix: string): Promise<number> {
    await this.ensurePrefixIndex();
    const rows =
      this.dialect === "postgres"
        ? await this.run<{ n: string }>(`SELECT count(*) AS n FROM ${this.table} WHERE ${PG_IN_RANGE}`, [prefix, SqlKeyvTable.upper(prefix)])
        : await this.run<{ n: number }>(`SELECT count(*) AS n FROM ${this.table} WHERE key >= ? AND key < ?`, [prefix, SqlKeyvTable.upper(prefix)]);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Deletes the rows with these keys (one statement); returns how many existed. On PostgreSQL the
   * rows are locked first in the order {@link upsertGrowing} writes them in, so a delete and a write
   * of overlapping keys never wait on each other crosswise.
   */
  async deleteKeys(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const rows =
      this.dialect === "postgres"
        ? await this.run(`DELETE FROM ${this.table} WHERE key IN (${pgKeysLockedInOrder(this.table)}) RETURNING key`, [inKeyOrder(keys)])
        : await this.run(`DELETE FROM ${this.table} WHERE key IN (SELECT value FROM json_each(?)) RETURNING key`, [JSON.stringify(keys)]);
    return rows.length;
  }

  /**
   * Writes the version under `key` in one statement (so concurrent writers in any process never
   * get the same new version) and returns it with its "versioned" mark.
   *
   * - `ensure`: the live version (at `nowMs`), else a new one; `bump`: a new one.
   * - A new version is max(previous + 1, clock in µs): PostgreSQL uses the server's clock (one
   *   clock for every process); SQLite, a file on one machine, uses `floorUs` from this process. A
   *   missing, unreadable or expired row restarts from the clock, never from 0 or 1.
   * - The expiry only grows (to at least `expiresAtMs`); the `"versioned":1` mark, once written,
   *   stays while the row lives.
   */
  async writeVersion(
    key: string,
    mode: "ensure" | "bump",
    expiresAtMs: number,
    nowMs: number,
    floorUs: number,
    versioned: boolean,
  ): Promise<{ version: number; versioned: boolean; expiresAt?: number }> {
    const expires = String(Math.ceil(expiresAtMs));
    const now = String(Math.floor(nowMs));
    let rows: VersionRow[];
    if (this.dialect === "postgres") {
      const live = `(${PG_VERSION("t.value")} IS NOT NULL AND COALESCE(${PG_EXPIRES("t.value")}, $3::bigint) >= $3::bigint)`;
      const mark = `CASE WHEN $4::boolean OR (${live} AND position('"versioned":1' in t.value) > 0) THEN ',"versioned":1' ELSE '' END`;
      const exp = `GREATEST($2::bigint, CASE WHEN ${live} THEN COALESCE(${PG_EXPIRES("t.value")}, 0) ELSE 0 END)`;
      const next = `'{"value":' || GREATEST(COALESCE(${PG_VERSION("t.value")}, 0) + 1, ${PG_NOW_US}) || ${mark} || ',"expires":' || ${exp} || '}'`;
      const keep = `'{"value":' || ${PG_VERSION("t.value")} || ${mark} || ',"expires":' || ${exp} || '}'`;
      const update = mode === "ensure" ? `CASE WHEN ${live} THEN ${keep} ELSE ${next} END` : next;
      rows = await this.run(
        `INSERT INTO ${this.table} AS t (key, value)
         VALUES ($1, '{"value":' || ${PG_NOW_US} || CASE WHEN $4::boolean THEN ',"versioned":1' ELSE '' END || ',"expires":' || $2::bigint || '}')
         ON CONFLICT (key) DO UPDATE SET value = ${update}
         RETURNING ${PG_VERSION("t.value")} AS v, position('"versioned":1' in t.value) > 0 AS f, ${PG_EXPIRES("t.value")} AS e`,
        [key, expires, now, versioned ? "true" : "false"],
      );
    } else {
      const t = `${this.table}.value`;
      const live = `(${SQLITE_VERSION(t)} IS NOT NULL AND coalesce(${SQLITE_EXPIRES(t)}, CAST(?4 AS INTEGER)) >= CAST(?4 AS INTEGER))`;
      const mark = `CASE WHEN CAST(?5 AS INTEGER) = 1 OR (${live} AND instr(${t}, '"versioned":1') > 0) THEN ',"versioned":1' ELSE '' END`;
      const exp = `max(CAST(?3 AS INTEGER), CASE WHEN ${live} THEN coalesce(${SQLITE_EXPIRES(t)}, 0) ELSE 0 END)`;
      const next = `'{"value":' || max(coalesce(${SQLITE_VERSION(t)}, 0) + 1, CAST(?2 AS INTEGER)) || ${mark} || ',"expires":' || ${exp} || '}'`;
      const keep = `'{"value":' || ${SQLITE_VERSION(t)} || ${mark} || ',"expires":' || ${exp} || '}'`;
      const update = mode === "ensure" ? `CASE WHEN ${live} THEN ${keep} ELSE ${next} END` : next;
      rows = await this.run(
        `INSERT INTO ${this.table} (key, value)
         VALUES (?1, '{"value":' || CAST(?2 AS INTEGER) || CASE WHEN CAST(?5 AS INTEGER) = 1 THEN ',"versioned":1' ELSE '' END || ',"expires":' || CAST(?3 AS INTEGER) || '}')
         ON CONFLICT(key) DO UPDATE SET value = ${update}
         RETURNING ${SQLITE_VERSION("value")} AS v, instr(value, '"versioned":1') > 0 AS f, ${SQLITE_EXPIRES("value")} AS e`,
        [key, String(floorUs), expires, now, versioned ? "1" : "0"],
      );
    }
    return this.versionOf(key, rows[0]);
  }

  /**
   * `ensure` writes of several version rows in one statement (see {@link writeVersion}): each row
   * keeps its live version (or gets a new one above the previous), its expiry grows to at least
   * its `expiresAtMs`, a "versioned" mark is kept or added. Rows are locked in key order, so two
   * such statements never deadlock on PostgreSQL. Results are in the order of `writes`.
   */
  async ensureVersions(
    writes: ReadonlyArray<{ key: string; expiresAtMs: number; versioned: boolean }>,
    nowMs: number,
    floorUs: number,
  ): Promise<Array<{ version: number; versioned: boolean; expiresAt?: number }>> {
    const merged = new Map<string, { key: string; expiresAtMs: number; versioned: boolean }>();
    for (const w of writes) {
      const previous = merged.get(w.key);
      merged.set(w.key, {
        key: w.key,
        expiresAtMs: Math.max(w.expiresAtMs, previous?.expiresAtMs ?? 0),
        versioned: w.versioned || previous?.versioned === true,
      });
    }
    const sorted = [...merged.values()].sort((a, b) => compareKeys(a.key, b.key));
    const byKey = new Map<string, VersionRow>();
    const now = String(Math.floor(nowMs));
    for (let i = 0; i < sorted.length; i += 500) {
      const batch = sorted.slice(i, i + 500);
      let rows: Array<VersionRow & { k: string }>;
      if (this.dialect === "postgres") {
        // The proposed row carries the request: its expiry and mark are read back from `excluded`.
        const live = `(${PG_VERSION("t.value")} IS NOT NULL AND COALESCE(${PG_EXPIRES("t.value")}, $4::bigint) >= $4::bigint)`;
        const asked = `position('"versioned":1' in excluded.value) > 0`;
        const mark = `CASE WHEN ${asked} OR (${live} AND position('"versioned":1' in t.value) > 0) THEN ',"versioned":1' ELSE '' END`;
        const exp = `GREATEST(${PG_EXPIRES("excluded.value")}, CASE WHEN ${live} THEN COALESCE(${PG_EXPIRES("t.value")}, 0) ELSE 0 END)`;
        const next = `'{"value":' || GREATEST(COALESCE(${PG_VERSION("t.value")}, 0) + 1, ${PG_NOW_US}) || ${mark} || ',"expires":' || ${exp} || '}'`;
        const keep = `'{"value":' || ${PG_VERSION("t.value")} || ${mark} || ',"expires":' || ${exp} || '}'`;
        rows = await this.run(
          `INSERT INTO ${this.table} AS t (key, value)
           SELECT r.k, '{"value":' || ${PG_NOW_US} || CASE WHEN r.f THEN ',"versioned":1' ELSE '' END || ',"expires":' || r.e || '}'
           FROM UNNEST($1::text[], $2::bigint[], $3::boolean[]) AS r(k, e, f)
           ON CONFLICT (key) DO UPDATE SET value = CASE WHEN ${live} THEN ${keep} ELSE ${next} END
           RETURNING t.key AS k, ${PG_VERSION("t.value")} AS v, position('"versioned":1' in t.value) > 0 AS f, ${PG_EXPIRES("t.value")} AS e`,
          [batch.map((w) => w.key), batch.map((w) => String(Math.ceil(w.expiresAtMs))), batch.map((w) => w.versioned), now],
        );
      } else {
        const t = `${this.table}.value`;
        const live = `(${SQLITE_VERSION(t)} IS NOT NULL AND coalesce(${SQLITE_EXPIRES(t)}, CAST(?3 AS INTEGER)) >= CAST(?3 AS INTEGER))`;
        const asked = `instr(excluded.value, '"versioned":1') > 0`;
        const mark = `CASE WHEN ${asked} OR (${live} AND instr(${t}, '"versioned":1') > 0) THEN ',"versioned":1' ELSE '' END`;
        const exp = `max(${SQLITE_EXPIRES("excluded.value")}, CASE WHEN ${live} THEN coalesce(${SQLITE_EXPIRES(t)}, 0) ELSE 0 END)`;
        const next = `'{"value":' || max(coalesce(${SQLITE_VERSION(t)}, 0) + 1, CAST(?2 AS INTEGER)) || ${mark} || ',"expires":' || ${exp} || '}'`;
        const keep = `'{"value":' || ${SQLITE_VERSION(t)} || ${mark} || ',"expires":' || ${exp} || '}'`;
        rows = await this.run(
          `INSERT INTO ${this.table} (key, value)
           SELECT json_extract(j.value, '$[0]'),
             '{"value":' || CAST(?2 AS INTEGER) || CASE WHEN json_extract(j.value, '$[2]') = 1 THEN ',"versioned":1' ELSE '' END
             || ',"expires":' || CAST(json_extract(j.value, '$[1]') AS INTEGER) || '}'
           FROM json_each(?1) AS j WHERE true
           ON CONFLICT(key) DO UPDATE SET value = CASE WHEN ${live} THEN ${keep} ELSE ${next} END
           RETURNING key AS k, ${SQLITE_VERSION("value")} AS v, instr(value, '"versioned":1') > 0 AS f, ${SQLITE_EXPIRES("value")} AS e`,
          [JSON.stringify(batch.map((w) => [w.key, Math.ceil(w.expiresAtMs), w.versioned ? 1 : 0])), String(floorUs), now],
        );
      }
      for (const row of rows) byKey.set(String(row.k), row);
    }
    return writes.map((w) => this.versionOf(w.key, byKey.get(w.key)));
  }

  private versionOf(key: string, row: VersionRow | undefined): { version: number; versioned: boolean; expiresAt?: number } {
    const version = Number(row?.v);
    if (!Number.isSafeInteger(version)) throw new Error(`the ${this.dialect} store did not return a version for "${key}"`);
    const expiresAt = row?.e === null || row?.e === undefined ? undefined : Number(row.e);
    return { version, versioned: row?.f === true || Number(row?.f) === 1, expiresAt: Number.isFinite(expiresAt) ? expiresAt : undefined };
  }

  /**
   * Takes the row `key` for a lock holder: inserts it, or replaces a row whose Keyv expiry is before
   * `nowMs`. True when taken (one statement, so two processes never both get it).
   */
  async takeLock(key: string, value: string, nowMs: number): Promise<boolean> {
    const rows =
      this.dialect === "postgres"
        ? await this.run(
            `INSERT INTO ${this.table} AS t (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value
             WHERE COALESCE(${PG_EXPIRES("t.value")}, 0) < $3::bigint RETURNING key`,
            [key, value, String(Math.floor(nowMs))],
          )
        : await this.run(
            `INSERT INTO ${this.table} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value
             WHERE coalesce(${SQLITE_EXPIRES(`${this.table}.value`)}, 0) < ? RETURNING key`,
            [key, value, Math.floor(nowMs)],
          );
    return rows.length === 1;
  }

  /** Deletes the lock row `key` only while it holds `token` (written by {@link takeLock} as its Keyv value). */
  async releaseLock(key: string, token: string): Promise<void> {
    if (this.dialect === "postgres") {
      await this.run(`DELETE FROM ${this.table} WHERE key = $1 AND substring(value from '^\\{"value":"([^"]*)"') = $2`, [key, token]);
    } else {
      await this.run(`DELETE FROM ${this.table} WHERE key = ? AND CASE WHEN json_valid(value) THEN json_extract(value, '$.value') END = ?`, [key, token]);
    }
  }

  /**
   * One bounded step of deleting rows under `prefix` whose Keyv expiry is before `nowMs`: walks the
   * key order from `cursor`, looking at up to `limit` rows (each row is looked at once per pass, so
   * a step's work is bounded whatever the table holds). `done` says the pass reached the end.
   */
  async pruneStep(
    prefix: string,
    nowMs: number,
    limit: number,
    cursor: string | undefined,
  ): Promise<{ deleted: number; cursor: string | undefined; done: boolean }> {
    const postgres = this.dialect === "postgres";
    if (postgres) await this.ensurePrefixIndex();
    const page = postgres
      ? await this.run<{ key: string; e: string | number | null }>(
          `SELECT key, ${PG_EXPIRES("value")} AS e FROM ${this.table} WHERE key COLLATE "C" > $1 AND key COLLATE "C" < $2 ORDER BY key COLLATE "C" LIMIT $3`,
          [cursor ?? prefix.slice(0, -1), SqlKeyvTable.upper(prefix), limit],
        )
      : await this.run<{ key: string; e: number | null }>(
          `SELECT key, ${SQLITE_EXPIRES("value")} AS e FROM ${this.table} WHERE key > ? AND key < ? ORDER BY key LIMIT ?`,
          [cursor ?? prefix.slice(0, -1), SqlKeyvTable.upper(prefix), limit],
        );
    const expired = page.filter((r) => r.e !== null && r.e !== undefined && Number(r.e) < nowMs).map((r) => r.key);
    let deleted = 0;
    if (expired.length > 0) {
      // Checked again in the statement: a row rewritten since the page was read is kept.
      const rows = postgres
        ? await this.run(`DELETE FROM ${this.table} WHERE key IN (${pgKeysLockedInOrder(this.table)}) AND ${PG_EXPIRES("value")} < $2::bigint RETURNING key`, [
            inKeyOrder(expired),
            String(Math.floor(nowMs)),
          ])
        : await this.run(`DELETE FROM ${this.table} WHERE key IN (SELECT value FROM json_each(?)) AND ${SQLITE_EXPIRES("value")} < ? RETURNING key`, [
            JSON.stringify(expired),
            Math.floor(nowMs),
          ]);
      deleted = rows.length;
    }
    const done = page.length < limit;
    return { deleted, cursor: done ? undefined : page[page.length - 1].key, done };
  }
}
