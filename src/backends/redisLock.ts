import { randomBytes } from "node:crypto";

/** The node-redis (v5) calls a lock needs; a cluster client has them too (one key per call). */
export interface RedisLockClient {
  set(key: string, value: string, options: { condition: "NX"; expiration: { type: "PX"; value: number } }): Promise<string | null>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** True for a client with the calls {@link acquireRedisLock} uses. */
export function isRedisLockClient(value: unknown): value is RedisLockClient {
  const c = value as Partial<RedisLockClient> | null | undefined;
  return !!c && typeof c.set === "function" && typeof c.eval === "function";
}

/**
 * `SET key token NX PX ttl`: the token when taken, null when someone else holds the lock. It frees
 * itself after `ttlMs`, so a holder that crashed blocks nobody for longer.
 */
export async function acquireRedisLock(client: RedisLockClient, key: string, ttlMs: number): Promise<string | null> {
  const token = randomBytes(12).toString("hex");
  const reply = await client.set(key, token, { condition: "NX", expiration: { type: "PX", value: Math.max(1, Math.round(ttlMs)) } });
  return reply === "OK" ? token : null;
}

/** Deletes the lock only if `token` still holds it (a lock that expired and was taken again stays). */
export async function releaseRedisLock(client: RedisLockClient, key: string, token: string): Promise<void> {
  await client.eval(RELEASE, { keys: [key], arguments: [token] });
}
