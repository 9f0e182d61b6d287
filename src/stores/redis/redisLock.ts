import { randomBytes } from "node:crypto";

/**
 * The node-redis (v5) calls a lock needs; a cluster client has them too (one key per call).
 *
 * @example
 * const client = createClient({ url: "redis://127.0.0.1:6379" }) as unknown as RedisLockClient;
 */
export interface RedisLockClient {
  set(key: string, value: string, options: { condition: "NX"; expiration: { type: "PX"; value: number } }): Promise<string | null>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * `SET key token NX PX ttl`: the token when taken, null when someone else holds the lock. It frees
 * itself after `ttlMs`, so a holder that crashed blocks nobody for longer.
 *
 * @example
 * const token = await acquireRedisLock(client, "ccp:versions::!lock%3A%2Fpage", 5000);
 */
export async function acquireRedisLock(client: RedisLockClient, key: string, ttlMs: number): Promise<string | null> {
  const token = randomBytes(12).toString("hex");
  const reply = await client.set(key, token, { condition: "NX", expiration: { type: "PX", value: Math.max(1, Math.round(ttlMs)) } });
  return reply === "OK" ? token : null;
}

/**
 * Deletes the lock only if `token` still holds it (a lock that expired and was taken again stays).
 *
 * @example
 * await releaseRedisLock(client, "ccp:versions::!lock%3A%2Fpage", token);
 */
export async function releaseRedisLock(client: RedisLockClient, key: string, token: string): Promise<void> {
  await client.eval(RELEASE, { keys: [key], arguments: [token] });
}
