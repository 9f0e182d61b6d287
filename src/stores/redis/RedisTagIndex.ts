import type { NativeTagIndex } from "../StoreDriver";
import { RETENTION_SLACK_MS } from "../retention";
import { ensureRedisConnected, type RedisIndexClient } from "./redisClient";
import { INDEX_ADD_SCRIPT } from "./redisScripts";

/** Expired members trimmed per add, at most: keeps every add O(log n) and bounded. */
const TRIM_PER_ADD = 100;

/**
 * A surrogate index in native Redis sorted sets, one per tag under `keyOf(tag)`: a member's score
 * is the time until which it must be remembered. Adds are one Lua script per tag (ZADD GT, trim,
 * EXPIRE NX + GT), so concurrent adds from any number of processes are never lost, a set never
 * expires before an entry it points to, its TTL only grows, and members whose entries are gone
 * are trimmed. Invalidation takes members with ZPOPMIN in batches: short commands and bounded
 * memory whatever the set size. Every command touches one key, so it works on a Redis Cluster.
 *
 * @example
 * const index = new RedisTagIndex(client, (tag) => `ccp:index::${tagPart(tag)}`, 1, 500);
 * await index.add("products", ["=:/p/1"], 60);
 */
export class RedisTagIndex implements NativeTagIndex {
  constructor(
    readonly client: RedisIndexClient,
    readonly keyOf: (tag: string) => string,
    private readonly minimumSeconds: number,
    private readonly batchSize = 500,
  ) {}

  async add(tag: string, members: string[], ttlSeconds: number): Promise<void> {
    if (members.length === 0) return;
    await ensureRedisConnected(this.client);
    const memberMs = Math.ceil(ttlSeconds * 1000) + RETENTION_SLACK_MS;
    const keySeconds = Math.max(Math.ceil(memberMs / 1000), Math.ceil(this.minimumSeconds));
    for (let i = 0; i < members.length; i += 1000) {
      await INDEX_ADD_SCRIPT.run(this.client, [this.keyOf(tag)], [String(memberMs), String(keySeconds), String(TRIM_PER_ADD), ...members.slice(i, i + 1000)]);
    }
  }

  async getKeys(tag: string): Promise<string[]> {
    await ensureRedisConnected(this.client);
    return this.client.zRange(this.keyOf(tag), 0, -1);
  }

  async remove(tag: string): Promise<void> {
    await ensureRedisConnected(this.client);
    await this.client.unlink(this.keyOf(tag));
  }

  /**
   * Pops members (ZPOPMIN count) in batches, at most as many as the set held when the drain began:
   * a tag that keeps receiving entries cannot keep an invalidation running. Members added meanwhile
   * either stay in the set or are handed out (their entry already written, since the backend writes
   * an entry before its membership), never lost.
   */
  async drain(tag: string, consume: (members: string[]) => Promise<void>): Promise<void> {
    await ensureRedisConnected(this.client);
    const key = this.keyOf(tag);
    let budget = await this.client.zCard(key);
    while (budget > 0) {
      const popped = await this.client.zPopMinCount(key, Math.min(this.batchSize, budget));
      if (popped.length === 0) return;
      budget -= popped.length;
      await consume(popped.map((p) => p.value));
    }
  }
}
