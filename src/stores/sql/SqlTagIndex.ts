import type { NativeTagIndex } from "../StoreDriver";
import { membershipPart, membershipPrefix } from "../keyParts";
import { RETENTION_SLACK_MS } from "../retention";
import type { SqlKeyvTable } from "./SqlKeyvTable";

/**
 * The index on a SQL Keyv table (SQLite, PostgreSQL): one row per (tag, member) membership,
 * `<namespace>:=<tag>:=<member>`, in Keyv's format with its own expiry. Adding is an upsert of
 * independent rows, so concurrent adds from any number of processes never overwrite each other;
 * an expiry only grows. Invalidation takes rows with `DELETE … LIMIT n RETURNING` in batches, so no
 * two processes take the same row and memory stays bounded. Expired rows go with the driver's
 * trimming (on writes) like any other.
 *
 * @example
 * const index = new SqlTagIndex(table, (part) => `ccp:index:${part}`, 245, 500);
 * await index.add("products", ["=:/p/1"], 60);
 */
export class SqlTagIndex implements NativeTagIndex {
  constructor(
    private readonly table: SqlKeyvTable,
    private readonly physicalKey: (part: string) => string,
    private readonly partBudget: number,
    private readonly batchSize = 500,
  ) {}

  private prefixOf(tag: string): string {
    return this.physicalKey(membershipPrefix(tag, this.partBudget));
  }

  async add(tag: string, members: string[], ttlSeconds: number): Promise<void> {
    return this.addToTags([tag], members, ttlSeconds);
  }

  /** The memberships of `members` under every tag of `tags`, in one statement (per 500 rows). */
  async addToTags(tags: readonly string[], members: string[], ttlSeconds: number): Promise<void> {
    if (members.length === 0 || tags.length === 0) return;
    const expires = Date.now() + Math.ceil(ttlSeconds * 1000) + RETENTION_SLACK_MS;
    await this.table.upsertGrowing(
      tags.flatMap((tag) =>
        members.map((member) => ({
          key: this.physicalKey(membershipPart(tag, member, this.partBudget)),
          value: JSON.stringify({ value: member, expires }),
        })),
      ),
    );
  }

  async getKeys(tag: string): Promise<string[]> {
    const prefix = this.prefixOf(tag);
    const keys: string[] = [];
    let after: string | undefined;
    for (;;) {
      const rows = await this.table.scanPrefix(prefix, after, 1000);
      for (const row of rows) {
        const key = memberOf(row.value);
        if (key !== undefined) keys.push(key);
      }
      if (rows.length < 1000) return keys;
      after = rows[rows.length - 1].key;
    }
  }

  async remove(tag: string): Promise<void> {
    const prefix = this.prefixOf(tag);
    while ((await this.table.popPrefix(prefix, this.batchSize)).length === this.batchSize);
  }

  /** Takes rows in batches, at most as many as the tag had when the drain began. */
  async drain(tag: string, consume: (members: string[]) => Promise<void>): Promise<void> {
    const prefix = this.prefixOf(tag);
    let budget = await this.table.countPrefix(prefix);
    while (budget > 0) {
      const rows = await this.table.popPrefix(prefix, Math.min(this.batchSize, budget));
      if (rows.length === 0) return;
      budget -= rows.length;
      const keys = rows.map((r) => memberOf(r.value)).filter((k): k is string => k !== undefined);
      if (keys.length > 0) await consume(keys);
    }
  }
}

/** The member a membership row points to (its Keyv value). */
function memberOf(value: string): string | undefined {
  try {
    const parsed = JSON.parse(value) as { value?: unknown };
    return typeof parsed?.value === "string" ? parsed.value : undefined;
  } catch {
    return undefined;
  }
}
