import { createHash } from "node:crypto";
import { redactUrl } from "../redactUrl";

/**
 * The few node-redis (v5) commands the cache uses. Typed structurally so that the client (or
 * cluster) @keyv/redis already holds can be used without importing node-redis types. Every command
 * here touches one key, so each is routed to that key's node on a cluster and no CROSSSLOT error
 * can happen.
 *
 * @example
 * const client = createClient({ url: "redis://127.0.0.1:6379" }) as unknown as RedisIndexClient;
 */
export interface RedisIndexClient {
  zCard(key: string): Promise<number>;
  zRange(key: string, min: number, max: number): Promise<string[]>;
  zPopMinCount(key: string, count: number): Promise<Array<{ value: string; score: number }>>;
  unlink(keys: string | string[]): Promise<number>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  isOpen?: boolean;
  connect?(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): unknown;
  /** Present on a cluster (node-redis `createCluster`). */
  masters?: unknown[];
  slots?: unknown;
}

/**
 * True for a node-redis client or cluster that has the commands the cache needs.
 *
 * @example
 * isRedisIndexClient(new KeyvRedis("redis://127.0.0.1:6379").client); // true
 */
export function isRedisIndexClient(value: unknown): value is RedisIndexClient {
  const c = value as Partial<RedisIndexClient> | null | undefined;
  return !!c && typeof c.zPopMinCount === "function" && typeof c.evalSha === "function" && typeof c.unlink === "function";
}

/**
 * True when `client` is a node-redis cluster (`createCluster`), not a single-node client.
 *
 * @example
 * isRedisCluster(createCluster({ rootNodes: [{ url: "redis://127.0.0.1:7101" }] })); // true
 */
export function isRedisCluster(client: unknown): boolean {
  return !!client && (client as { slots?: unknown }).slots !== undefined && Array.isArray((client as { masters?: unknown }).masters);
}

const connecting = new WeakMap<object, Promise<void>>();

/**
 * Connects `client` once, however many callers ask at the same time. A cluster must have
 * discovered its slots before commands are routed; concurrent first commands through @keyv/redis
 * otherwise fail, so every cache operation awaits this first.
 *
 * @example
 * await ensureRedisConnected(client); // connects once; later calls resolve at once
 */
export function ensureRedisConnected(client: RedisIndexClient): Promise<void> {
  const pending = connecting.get(client);
  if (pending) return pending;
  if (client.isOpen !== false || typeof client.connect !== "function") return Promise.resolve();
  const started = client.connect().then(
    () => undefined,
    (error: unknown) => {
      connecting.delete(client);
      throw error;
    },
  );
  connecting.set(client, started);
  return started;
}

/**
 * Closes a client the cache opened itself.
 *
 * @example
 * await closeRedisClient(createRedisClientFromUrl("redis://127.0.0.1:6379"));
 */
export async function closeRedisClient(client: RedisIndexClient): Promise<void> {
  await connecting.get(client)?.catch(() => undefined);
  connecting.delete(client);
  if (!client.isOpen) return;
  if (typeof client.close === "function") await client.close();
  else if (typeof client.quit === "function") await client.quit();
  else client.destroy?.();
}

/**
 * A Lua script run with EVALSHA, falling back to EVAL the first time a node has not seen it.
 *
 * @example
 * const script = new RedisScript("return redis.call('GET', KEYS[1])");
 * await script.run(client, ["key"], []);
 */
export class RedisScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  /** Runs the script on the node of `keys[0]` (all keys must share a slot). */
  async run(client: RedisIndexClient, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await client.evalSha(this.sha, { keys, arguments: args });
    } catch (error) {
      if (!String((error as Error)?.message ?? error).includes("NOSCRIPT")) throw error;
      return client.eval(this.source, { keys, arguments: args });
    }
  }
}

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/i;

/**
 * True for `redis+cluster://…` and `rediss+cluster://…` URLs.
 *
 * @example
 * isRedisClusterUrl("redis+cluster://h:7101"); // true
 */
export function isRedisClusterUrl(url: string): boolean {
  return /^rediss?\+cluster:/i.test(url);
}

/**
 * A node-redis client for `redis://` / `rediss://`, or a cluster client for
 * `redis+cluster://[user:password@]host:port[,host:port…]` (`rediss+cluster://` for TLS): the
 * listed nodes are the seeds, the others are discovered. Loads @keyv/redis (node-redis 5) lazily.
 *
 * @example
 * createRedisClientFromUrl("redis+cluster://127.0.0.1:7101,127.0.0.1:7102");
 */
export function createRedisClientFromUrl(url: string): RedisIndexClient {
  let redis: typeof import("@keyv/redis");
  try {
    redis = require("@keyv/redis") as typeof import("@keyv/redis");
  } catch (error) {
    throw new TypeError(`store "${redactUrl(url)}" needs the package @keyv/redis: run \`npm install @keyv/redis\``, { cause: error });
  }
  if (!isRedisClusterUrl(url)) return redis.createClient({ url }) as unknown as RedisIndexClient;
  const match = CLUSTER_URL.exec(url);
  const hosts = match?.[3].split(",").map((h) => h.trim()) ?? [];
  if (!match || hosts.length === 0 || hosts.some((h) => !/^[^:\s]+:\d+$/.test(h) && !/^\[[0-9a-f:.]+\]:\d+$/i.test(h))) {
    throw new TypeError(
      `Redis Cluster URL "${redactUrl(url)}" is not valid: write redis+cluster://[user:password@]host:port[,host:port…] (no database number; a cluster has one keyspace)`,
    );
  }
  const scheme = match[1].toLowerCase();
  const defaults: Record<string, unknown> = {};
  if (match[2]) {
    const [user, ...rest] = match[2].split(":");
    if (user) defaults.username = decodeURIComponent(user);
    if (rest.length > 0) defaults.password = decodeURIComponent(rest.join(":"));
  }
  if (scheme === "rediss") defaults.socket = { tls: true };
  return redis.createCluster({ rootNodes: hosts.map((h) => ({ url: `${scheme}://${h}` })), defaults } as never) as unknown as RedisIndexClient;
}
