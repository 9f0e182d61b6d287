import type { Keyv } from "keyv";
import type { KeyvCacheBackend } from "../../../src/backends/keyv";
import type { CachedResponse, TagRef } from "../../../src/backends/types";
import { MemoryStoreDriver } from "../../../src/stores/memory/MemoryStoreDriver";
import type { RedisIndexClient } from "../../../src/stores/redis/redisClient";
import { RedisStoreDriver } from "../../../src/stores/redis/RedisStoreDriver";
import { SqlStoreDriver } from "../../../src/stores/sql/SqlStoreDriver";
import type { StoreDriver, StoreNamespace } from "../../../src/stores/StoreDriver";

/** A small text response. */
export function response(text: string): CachedResponse {
  return { status: 200, headers: { "content-type": "text/plain" }, body: Buffer.from(text) };
}

/**
 * What the http layer does on a miss: lookup (which hands out the token of versions seen before
 * the action), then store with that token. Returns the token.
 */
export async function lookupAndStore(
  backend: KeyvCacheBackend,
  key: string,
  tags: TagRef[],
  res: CachedResponse,
  timeout = 60,
  token?: Record<string, number>,
): Promise<Record<string, number>> {
  const seen = token ?? ((await backend.lookup(key, tags)).token as Record<string, number>);
  await backend.set({ key, response: res, timeout, surrogateKeys: tags.map((t) => t.name), tags, token: seen, metadata: { storedAt: Date.now() } });
  return seen;
}

/** Writes `value` as is (no Keyv envelope) under a part of `keyv`'s namespace: foreign data. */
export async function putRaw(keyv: Keyv, part: string, value: string): Promise<void> {
  await (keyv.store as { set(k: string, v: unknown): Promise<unknown> }).set(keyv._getKeyPrefix(part), value);
}

/** Puts a Redis set (another type than our strings) under a part of the entries namespace. */
export async function putRedisSet(driver: StoreDriver, part: string): Promise<void> {
  if (!(driver instanceof RedisStoreDriver)) throw new Error("not a Redis store");
  await (driver.client as unknown as { sAdd(k: string, m: string): Promise<unknown> }).sAdd(driver.physicalKey("entries", part), "foreign");
}

/** The Redis client of a backend on Redis. */
export function redisDriverOf(backend: KeyvCacheBackend): RedisStoreDriver {
  if (!(backend.stores instanceof RedisStoreDriver)) throw new Error(`expected Redis, got ${backend.stores.kind}`);
  return backend.stores;
}

/** How many keys physically exist under a namespace of the driver (expired SQL rows included). */
export async function countPhysical(driver: StoreDriver, namespace: StoreNamespace = "entries"): Promise<number> {
  const prefix = driver[namespace]._getKeyPrefix("");
  if (driver instanceof MemoryStoreDriver) return [...driver.map.keys()].filter((k) => typeof k === "string" && k.startsWith(prefix)).length;
  if (driver instanceof SqlStoreDriver) return driver.table.countPrefix(prefix);
  if (driver instanceof RedisStoreDriver) {
    const physical = driver.physicalKey(namespace, "");
    const client = driver.client as RedisIndexClient & { masters?: unknown[]; nodeClient?(m: unknown): Promise<ScanClient> } & ScanClient;
    const nodes: ScanClient[] = driver.cluster ? await Promise.all(client.masters!.map((m: unknown) => client.nodeClient!(m))) : [client];
    let n = 0;
    for (const node of nodes) {
      let cursor = "0";
      do {
        const reply = await node.scan(cursor, { MATCH: `${physical.replace(/[*?[\]\\]/g, "\\$&")}*`, COUNT: 1000 });
        cursor = String(reply.cursor);
        n += reply.keys.length;
      } while (cursor !== "0");
    }
    return n;
  }
  throw new Error(`cannot count keys on a ${driver.kind} store`);
}

interface ScanClient {
  scan(cursor: string, options: { MATCH: string; COUNT: number }): Promise<{ cursor: string | number; keys: string[] }>;
}
