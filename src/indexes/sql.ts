import { BaseSurrogateIndex } from "./base";
import { membershipPart, membershipPrefix } from "./keyParts";
import { INDEX_SLACK_MS } from "./redis";
import type { SqlKeyvTable } from "./sqlTable";

/**
 * The index on a SQL Keyv table (SQLite, PostgreSQL): one row per (tag, cache key) membership,
 * `<namespace>:=<tag>:=<cache key>`, in Keyv's format with its own expiry. Adding is an upsert of
 * independent rows, so concurrent adds from any number of processes never overwrite each other;
 * an expiry only grows. Invalidation takes rows with `DELETE … LIMIT n RETURNING` in batches, so no
 * two processes take the same row and memory stays bounded.
 *
 * Used by {@link KeyvSurrogateIndex} when its Keyv sits on @keyv/sqlite or @keyv/postgres.
 *
 * @example
 * const keyv = new Keyv({ store: new KeyvSqlite("sqlite:///var/cache/pages.db"), namespace: "ccp:index" });
 * new KeyvSurrogateIndex(keyv); // uses a SqlMembershipIndex
 */
export class SqlMembershipIndex extends BaseSurrogateIndex {
  constructor(
    private readonly table: SqlKeyvTable,
    private readonly physicalKey: (part: string) => string,
    private readonly partBudget: number,
    private readonly batchSize = 500,
  ) {
    super();
  }

  private prefixOf(tag: string): string {
    return this.physicalKey(membershipPrefix(tag, this.partBudget));
  }

  async add(surrogateKey: string, cacheKeys: string[], ttlSeconds: number): Promise<void> {
    if (cacheKeys.length === 0) return;
    const expires = Date.now() + Math.ceil(ttlSeconds * 1000) + INDEX_SLACK_MS;
    await this.table.upsertGrowing(
      cacheKeys.map((key) => ({
        key: this.physicalKey(membershipPart(surrogateKey, key, this.partBudget)),
        value: JSON.stringify({ value: key, expires }),
      })),
    );
  }

  async getKeys(surrogateKey: string): Promise<string[]> {
    const prefix = this.prefixOf(surrogateKey);
    const keys: string[] = [];
    let after: string | undefined;
    for (;;) {
      const rows = await this.table.scanPrefix(prefix, after, 1000);
      for (const row of rows) {
        const key = cacheKeyOf(row.value);
        if (key !== undefined) keys.push(key);
      }
      if (rows.length < 1000) return keys;
      after = rows[rows.length - 1].key;
    }
  }

  async remove(surrogateKey: string): Promise<void> {
    const prefix = this.prefixOf(surrogateKey);
    while ((await this.table.popPrefix(prefix, this.batchSize)).length === this.batchSize);
  }

  /** Takes rows in batches, at most as many as the tag had when the drain began. */
  override async drain(surrogateKey: string, consume: (keys: string[]) => Promise<void>): Promise<void> {
    const prefix = this.prefixOf(surrogateKey);
    let budget = await this.table.countPrefix(prefix);
    while (budget > 0) {
      const rows = await this.table.popPrefix(prefix, Math.min(this.batchSize, budget));
      if (rows.length === 0) return;
      budget -= rows.length;
      const keys = rows.map((r) => cacheKeyOf(r.value)).filter((k): k is string => k !== undefined);
      if (keys.length > 0) await consume(keys);
    }
  }
}

/** The cache key a membership row points to (its Keyv value). */
function cacheKeyOf(value: string): string | undefined {
  try {
    const parsed = JSON.parse(value) as { value?: unknown };
    return typeof parsed?.value === "string" ? parsed.value : undefined;
  } catch {
    return undefined;
  }
}
