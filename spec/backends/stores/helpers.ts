import type { Keyv } from "keyv";
import type { KeyvCacheBackend } from "../../../src/backends/keyv";
import type { CachedResponse, TagRef } from "../../../src/backends/types";
import { accessKeyvStore } from "../../../src/indexes/keyvStoreAccess";
import type { RedisIndexClient } from "../../../src/indexes/redisClient";

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

/** Puts a Redis set (another type than our strings) under a part of `keyv`'s namespace. */
export async function putRedisSet(keyv: Keyv, part: string): Promise<void> {
  const access = accessKeyvStore(keyv);
  if (access.kind !== "redis") throw new Error("not a Redis store");
  await (access.client as unknown as { sAdd(k: string, m: string): Promise<unknown> }).sAdd(access.physicalKey(part), "foreign");
}

/** How many keys physically exist under `keyv`'s namespace (expired SQL rows included). */
export async function countPhysical(keyv: Keyv): Promise<number> {
  const access = accessKeyvStore(keyv);
  const prefix = access.physicalKey("");
  switch (access.kind) {
    case "memory":
      return [...access.map.keys()].filter((k) => typeof k === "string" && k.startsWith(prefix)).length;
    case "sql":
      return access.table.countPrefix(prefix);
    case "redis": {
      const client = access.client as RedisIndexClient & {
        masters?: unknown[];
        nodeClient?(m: unknown): Promise<ScanClient>;
      } & ScanClient;
      const nodes: ScanClient[] = access.cluster ? await Promise.all(client.masters!.map((m) => client.nodeClient!(m))) : [client];
      let n = 0;
      for (const node of nodes) {
        let cursor = "0";
        do {
          const reply = await node.scan(cursor, { MATCH: `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, COUNT: 1000 });
          cursor = String(reply.cursor);
          n += reply.keys.length;
        } while (cursor !== "0");
      }
      return n;
    }
    default:
      throw new Error(`cannot count keys on a ${access.kind} store`);
  }
}

interface ScanClient {
  scan(cursor: string, options: { MATCH: string; COUNT: number }): Promise<{ cursor: string | number; keys: string[] }>;
}
