/**
 * The few node-redis (v5) commands the Redis index uses. Typed structurally so that the client
 * @keyv/redis already holds can be used without importing node-redis types.
 */
export interface RedisSetClient {
  sAdd(key: string, members: string[]): Promise<unknown>;
  sMembers(key: string): Promise<string[]>;
  sPopCount(key: string, count: number): Promise<string[]>;
  del(keys: string | string[]): Promise<unknown>;
  multi(): RedisMulti;
  isOpen?: boolean;
  connect?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  close?(): Promise<unknown>;
}

/** A node-redis MULTI chain. */
export interface RedisMulti {
  sAdd(key: string, members: string[]): RedisMulti;
  expire(key: string, seconds: number, mode?: "NX" | "XX" | "GT" | "LT"): RedisMulti;
  exec(): Promise<unknown>;
}

/** True for a node-redis client (or cluster) that has the set commands. */
export function isRedisSetClient(value: unknown): value is RedisSetClient {
  const c = value as Partial<RedisSetClient> | null | undefined;
  return !!c && typeof c.sAdd === "function" && typeof c.multi === "function" && typeof c.sPopCount === "function";
}
