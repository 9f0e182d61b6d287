import { Keyv } from "keyv";
import type { NativeTagIndex, StoreDriver, StoreNamespace, VersionWrite, VersionWriteRequest } from "../StoreDriver";
import { tagPart } from "../keyParts";
import { jsonSerialization } from "../keyvNamespaces";
import { isStoreHealthFailure } from "../storeHealth";
import { closeRedisClient, ensureRedisConnected, isRedisCluster, type RedisIndexClient } from "./redisClient";
import { acquireRedisLock, releaseRedisLock, type RedisLockClient } from "./redisLock";
import { VERSION_SCRIPT } from "./redisScripts";
import { RedisTagIndex } from "./RedisTagIndex";
import { RedisTierChannel } from "./RedisTierChannel";

/** The part of @keyv/redis the driver uses to name keys. */
interface RedisAdapter {
  createKeyPrefix(key: string, namespace?: string): string;
}

/**
 * The driver of Redis and Redis Cluster (node-redis 5 through @keyv/redis): entries through Keyv,
 * versions by a Lua script, the index in sorted sets, locks by `SET NX PX`, bulk deletes by one
 * UNLINK (key by key on a cluster, where a command must stay in one slot). Redis expires keys
 * itself, so there is nothing to trim.
 *
 * @example
 * const driver = new RedisStoreDriver(createRedisClientFromUrl("redis://127.0.0.1:6379"), namespaceNames("ccp"), true);
 * await driver.ready();
 */
export class RedisStoreDriver implements StoreDriver {
  readonly kind: "redis" | "redis-cluster";
  readonly inMemory = false;
  readonly shared = true;
  readonly partBudget = Infinity;
  readonly bumpTellsPrevious = true;
  readonly entries: Keyv;
  readonly index: Keyv;
  readonly versions: Keyv;
  readonly cluster: boolean;
  private readonly adapters = {} as Record<StoreNamespace, RedisAdapter & { namespace?: string }>;
  private closed?: Promise<void>;
  private channel?: RedisTierChannel;
  private readonly base: string;

  constructor(
    readonly client: RedisIndexClient,
    names: Record<StoreNamespace, string>,
    private readonly owned: boolean,
  ) {
    const { default: KeyvRedis } = require("@keyv/redis") as typeof import("@keyv/redis");
    this.base = names.entries.replace(/:entries$/, "");
    this.cluster = isRedisCluster(client);
    this.kind = this.cluster ? "redis-cluster" : "redis";
    const open = (namespace: StoreNamespace) => {
      const adapter = new KeyvRedis(client as never, { namespace: names[namespace], throwOnErrors: true });
      this.adapters[namespace] = adapter as unknown as RedisAdapter;
      return new Keyv({ store: adapter, namespace: names[namespace], useKeyPrefix: false, throwOnErrors: true, ...jsonSerialization });
    };
    this.entries = open("entries");
    this.index = open("index");
    this.versions = open("versions");
  }

  ready(): Promise<void> {
    return ensureRedisConnected(this.client);
  }

  close(): Promise<void> {
    return (this.closed ??= (async () => {
      await this.channel?.close();
      if (this.owned) await closeRedisClient(this.client);
    })());
  }

  /** Leases, the invalidation log (a Redis Stream) and watermarks under `<namespace>:tier:{<namespace>}:…`. */
  tierChannel(): RedisTierChannel {
    this.channel ??= new RedisTierChannel(this.client, this.base);
    return this.channel;
  }

  /** The Redis key of a part of a namespace. */
  physicalKey(namespace: StoreNamespace, part: string): string {
    const adapter = this.adapters[namespace];
    return adapter.createKeyPrefix(part, adapter.namespace);
  }

  async writeVersion(part: string, { mode, ttlMs, versioned }: VersionWriteRequest): Promise<VersionWrite> {
    await this.ready();
    const reply = (await VERSION_SCRIPT.run(
      this.client,
      [this.physicalKey("versions", part)],
      [String(Math.max(1, Math.ceil(ttlMs))), String(Date.now()), mode, versioned ? "1" : "0"],
    )) as [string, number, string?, string?];
    const version = Number(reply?.[0]);
    if (!Number.isSafeInteger(version) || version <= 0) throw new Error(`Redis returned no version for "${part}" (got ${String(reply)})`);
    const expiresAt = Number(reply[2]);
    const previous = Number(reply[3]);
    return {
      version,
      versioned: Number(reply[1]) === 1,
      expiresAt: Number.isSafeInteger(expiresAt) && expiresAt > 0 ? expiresAt : undefined,
      previous: Number.isSafeInteger(previous) && previous > 0 ? previous : null,
    };
  }

  createTagIndex(batchSize: number): NativeTagIndex {
    // Minimum lifetime 1 s: a set lives exactly as long as its longest member needs.
    return new RedisTagIndex(this.client, (tag) => this.physicalKey("index", tagPart(tag)), 1, batchSize);
  }

  async acquireLock(part: string, ttlMs: number): Promise<string | null> {
    await this.ready();
    return acquireRedisLock(this.client as unknown as RedisLockClient, this.physicalKey("versions", part), ttlMs);
  }

  async releaseLock(part: string, token: string): Promise<void> {
    await this.ready();
    await releaseRedisLock(this.client as unknown as RedisLockClient, this.physicalKey("versions", part), token);
  }

  async deleteEntries(parts: string[]): Promise<number> {
    if (parts.length === 0) return 0;
    await this.ready();
    const keys = parts.map((part) => this.physicalKey("entries", part));
    // A cluster needs one slot per command: key by key there.
    if (!this.cluster) return this.client.unlink(keys);
    const counts = await Promise.all(keys.map((key) => this.client.unlink(key)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Foreign data of another Redis type under our key reads as a miss, which the next store overwrites. */
  isForeignDataError(error: unknown): boolean {
    return /WRONGTYPE/.test(String((error as Error)?.message ?? error));
  }

  isHealthFailure(error: unknown): boolean {
    return isStoreHealthFailure(error);
  }
}
