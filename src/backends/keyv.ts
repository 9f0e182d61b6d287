import { randomUUID } from "node:crypto";
import type { Keyv } from "keyv";
import { BaseSurrogateIndex } from "../indexes/base";
import { KeyvSurrogateIndex } from "../indexes/keyv";
import { entryPart, lockPart } from "../indexes/keyParts";
import { accessKeyvStore, type KeyvStoreAccess } from "../indexes/keyvStoreAccess";
import { reportProblem } from "../logger";
import { BaseCacheBackend } from "./base";
import { decodeEntry, encodeEntry } from "./entryCodec";
import { openKeyvStores, type KeyvStoreSpec, type KeyvStores } from "./openKeyvStores";
import { StorePruner, type PruneOptions, type PruneResult, type SampledPruneOptions } from "./prune";
import { acquireRedisLock, releaseRedisLock, type RedisLockClient } from "./redisLock";
import { DEFAULT_VERSION_TIMEOUT, TagVersionStore, versionedTimeoutOf } from "./tagVersions";
import type { CachedResponse, CacheEntry, LookupResult, TagRef } from "./types";

/**
 * Options of {@link KeyvCacheBackend}.
 *
 * @example
 * new KeyvCacheBackend({ store: "sqlite:///var/cache/pages.db", namespace: "shop", prune: { every: 500 } });
 */
export interface KeyvCacheBackendOptions {
  /**
   * A Keyv adapter, a Keyv instance, a Map, or a URL: `redis://`, `rediss://`,
   * `redis+cluster://host:port[,host:port…]`, `sqlite://`, `postgres://`. Default: in memory.
   */
  store?: KeyvStoreSpec;
  /** Prefix of the three Keyv namespaces (default `ccp`): `ccp:entries`, `ccp:index`, `ccp:versions`. */
  namespace?: string;
  /** Where plain tags are indexed; default a {@link KeyvSurrogateIndex} on the same store. */
  surrogateIndex?: BaseSurrogateIndex;
  /**
   * Sampled pruning of expired rows (SQLite, PostgreSQL, memory): one bounded step after every
   * `every`-th store, in the background. Default `{ every: 1000, batchSize: 500 }`; `false` or
   * `{ every: 0 }` turns it off (then call {@link KeyvCacheBackend.prune} yourself, e.g. from a timer).
   */
  prune?: SampledPruneOptions | false;
}

/** Entries deleted per statement / pipeline when a tag is invalidated. */
const DELETE_BATCH = 500;

/**
 * The default backend: whole responses in a Keyv store, plain tags in a surrogate index, tag
 * versions in a third namespace. Every entry records the versions of its tags seen before its
 * action ran, and is served only while they are still current; invalidating a tag first moves its
 * version (atomically, to a value never used before), so once `invalidateTag` resolves no process
 * sharing the store serves an entry computed before the call. Plain tags' entries are then deleted
 * in bounded batches.
 *
 * @example
 * configureCachePage({ backends: { default: { backend: "keyv", options: { store: "redis://127.0.0.1:6379" } } } });
 * // or directly
 * const backend = new KeyvCacheBackend({ store: "postgresql://cache@127.0.0.1:5432/app", namespace: "shop" });
 */
export class KeyvCacheBackend extends BaseCacheBackend {
  readonly stores: KeyvStores;
  readonly versions: TagVersionStore;
  readonly surrogateIndex: BaseSurrogateIndex;
  private readonly entryAccess: KeyvStoreAccess;
  /** Locks live in the versions namespace, under parts no tag can produce. */
  private readonly lockAccess: KeyvStoreAccess;
  private readonly pruner: StorePruner;
  private readonly pruneEvery: number;
  private readonly pruneBatch: number;
  private setsSincePrune = 0;
  private pruning?: Promise<unknown>;

  constructor(options: KeyvCacheBackendOptions = {}) {
    super(options as Record<string, unknown>);
    const prune = options.prune === false ? { every: 0 } : (options.prune ?? {});
    this.pruneEvery = prune.every ?? 1000;
    this.pruneBatch = prune.batchSize ?? 500;
    if (!Number.isInteger(this.pruneEvery) || this.pruneEvery < 0) {
      throw new TypeError(`KeyvCacheBackend: prune.every must be a whole number of stores (0 turns sampled pruning off; got ${String(prune.every)})`);
    }
    if (!Number.isInteger(this.pruneBatch) || this.pruneBatch < 1) {
      throw new TypeError(`KeyvCacheBackend: prune.batchSize must be a whole number >= 1 (got ${String(prune.batchSize)})`);
    }
    if (options.surrogateIndex !== undefined && !(options.surrogateIndex instanceof BaseSurrogateIndex)) {
      throw new TypeError("KeyvCacheBackend: surrogateIndex must be an instance of a BaseSurrogateIndex subclass (e.g. new RedisSurrogateIndex({ url }))");
    }
    this.stores = openKeyvStores(options.store, options.namespace ?? "ccp");
    this.entryAccess = accessKeyvStore(this.stores.entries);
    this.lockAccess = accessKeyvStore(this.stores.versions);
    this.versions = new TagVersionStore(this.stores.versions);
    this.surrogateIndex = options.surrogateIndex ?? new KeyvSurrogateIndex(this.stores.index);
    this.pruner = new StorePruner([this.stores.entries, this.stores.index, this.stores.versions]);
  }

  /** The Keyv instance holding the entries. */
  get entries(): Keyv {
    return this.stores.entries;
  }

  /** The part an entry with this storage key is stored under in the entries namespace. */
  entryKeyOf(key: string): string {
    return entryPart(key, this.entryAccess.partBudget);
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    return (await this.lookup(key, [])).response;
  }

  /**
   * Reads the entry and the current versions of the request's tags in parallel. A hit needs every
   * version the entry recorded to be current. On a miss, the token holds the current versions,
   * creating missing ones, so that the response computed next is stored with what was current
   * before its action ran.
   */
  override async lookup(key: string, tags: readonly TagRef[]): Promise<LookupResult> {
    await this.stores.ready();
    const names = [...new Set(tags.map((t) => t.name))];
    const [raw, current] = await Promise.all([this.readEntry(key), this.versions.read(names)]);
    const entry = decodeEntry(raw);
    if (entry) {
      const unseen = Object.keys(entry.tags).filter((name) => !(name in current));
      const all = unseen.length > 0 ? { ...current, ...(await this.versions.read(unseen)) } : current;
      if (Object.entries(entry.tags).every(([name, version]) => all[name] === version)) {
        return { response: entry.response, metadata: entry.meta, token: current };
      }
    }
    return { token: await this.versions.ensure(tags.map(versionRequest), current) };
  }

  /**
   * The in-memory store's synchronous hit check: the entry when it is there, unexpired, and every
   * tag version it recorded is current. Anything else (a miss, another store) gives undefined and
   * {@link lookup} takes over.
   */
  override lookupSync(key: string): LookupResult | undefined {
    const access = this.entryAccess;
    if (access.kind !== "memory") return undefined;
    const stored = access.map.get(access.physicalKey(this.entryKeyOf(key))) as { value?: unknown; expires?: number } | undefined;
    if (!stored || (typeof stored.expires === "number" && stored.expires < Date.now())) return undefined;
    const entry = decodeEntry(stored.value);
    if (!entry) return undefined;
    const current = this.versions.readSync(Object.keys(entry.tags));
    if (!current) return undefined;
    for (const name in entry.tags) if (current[name] !== entry.tags[name]) return undefined;
    return { response: entry.response, metadata: entry.meta };
  }

  /**
   * Stores the entry with the versions in `entry.token` (what its lookup saw), then records it
   * under its plain tags. The entry is written before its index memberships: an invalidation that
   * takes a membership always finds the entry to delete, so none is left behind unindexed. If the
   * index cannot be written the entry is deleted again. Without a token (a `set` that no `lookup`
   * preceded) the entry records the versions current when it is stored.
   */
  async set(entry: CacheEntry): Promise<void> {
    const tags = entry.tags ?? entry.surrogateKeys.map((name) => ({ name, versioned: false, versionTimeout: DEFAULT_VERSION_TIMEOUT }));
    // An entry never outlives the version keys of its tags.
    const ttl = Math.min(entry.timeout, ...tags.map((t) => t.versionTimeout));
    if (!(ttl > 0)) return;
    await this.stores.ready();
    const seen = (entry.token ?? {}) as Record<string, number | undefined>;
    const versions = await this.versions.ensure(tags.map(versionRequest), seen);
    const tagVersions: Record<string, number> = {};
    for (const t of tags) tagVersions[t.name] = versions[t.name];
    const record = encodeEntry(entry.response, tagVersions, entry.metadata, this.stores.inMemory);
    const part = this.entryKeyOf(entry.key);
    await this.stores.entries.set(part, record, Math.ceil(ttl * 1000));
    const plain = [...new Set(tags.filter((t) => !t.versioned).map((t) => t.name))];
    try {
      await Promise.all(plain.map((name) => this.surrogateIndex.add(name, [entry.key], ttl)));
    } catch (error) {
      await this.stores.entries.delete(part).catch(() => undefined);
      throw error;
    }
    this.samplePrune();
  }

  async delete(key: string): Promise<boolean> {
    await this.stores.ready();
    return this.stores.entries.delete(this.entryKeyOf(key));
  }

  /**
   * Bumps the tag's version first (O(1); from then on no entry stored before is served, in any
   * process), then deletes the entries indexed under it in batches. Returns the new version for a
   * tag known to be versioned, else the number of entries deleted.
   */
  async invalidateBySurrogate(surrogateKey: string): Promise<number> {
    await this.stores.ready();
    const versionedTimeout = versionedTimeoutOf(surrogateKey);
    const version = await this.versions.bump(surrogateKey, Math.max(versionedTimeout ?? 0, DEFAULT_VERSION_TIMEOUT));
    let deleted = 0;
    await this.surrogateIndex.drain(surrogateKey, async (keys) => {
      for (let i = 0; i < keys.length; i += DELETE_BATCH) deleted += await this.deleteEntries(keys.slice(i, i + DELETE_BATCH));
    });
    return versionedTimeout !== undefined ? version : deleted;
  }

  /**
   * Deletes expired entries, index memberships and versions still kept by the store, in bounded
   * batches: needed on SQLite and PostgreSQL (and in memory), where Keyv only drops an expired row
   * when someone reads it. On Redis the server expires keys itself and this returns at once.
   *
   * @example
   * setInterval(() => void backend.prune({ batchSize: 1000 }), 60_000).unref();
   */
  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    await this.stores.ready();
    return this.pruner.run(options);
  }

  /**
   * A lock shared by every process on the store (stampede protection): `SET NX PX` on Redis, one
   * upsert that only replaces an expired row on SQLite / PostgreSQL, a synchronous Map update in
   * memory. Returns the holder's token, `null` while another holder has it, and `undefined` on
   * adapters without an atomic way to take it.
   */
  override async acquireLock(name: string, ttlMs: number): Promise<string | null | undefined> {
    await this.stores.ready();
    const access = this.lockAccess;
    const key = access.physicalKey(lockPart(name, access.partBudget));
    const token = randomUUID();
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const now = Date.now();
    switch (access.kind) {
      case "redis":
        return acquireRedisLock(access.client as unknown as RedisLockClient, key, ttl);
      case "sql":
        return (await access.table.takeLock(key, JSON.stringify({ value: token, expires: now + ttl }), now)) ? token : null;
      case "memory": {
        const held = access.map.get(key) as { expires?: number } | undefined;
        if (held && typeof held.expires === "number" && held.expires >= now) return null;
        access.map.set(key, { value: token, expires: now + ttl });
        return token;
      }
      default:
        return undefined;
    }
  }

  /** Frees a lock taken with {@link acquireLock} if `token` still holds it. */
  override async releaseLock(name: string, token: string): Promise<void> {
    await this.stores.ready();
    const access = this.lockAccess;
    const key = access.physicalKey(lockPart(name, access.partBudget));
    switch (access.kind) {
      case "redis":
        await releaseRedisLock(access.client as unknown as RedisLockClient, key, token);
        return;
      case "sql":
        await access.table.releaseLock(key, token);
        return;
      case "memory":
        if ((access.map.get(key) as { value?: unknown } | undefined)?.value === token) access.map.delete(key);
        return;
    }
  }

  override async close(): Promise<void> {
    await this.pruning?.catch(() => undefined);
    await this.surrogateIndex.close();
    await this.stores.close();
  }

  /** Deletes entries by storage key, one statement on SQL stores, pipelined per key elsewhere (UNLINK on Redis, never a multi-key command). */
  private async deleteEntries(keys: string[]): Promise<number> {
    const access = this.entryAccess;
    if (access.kind === "sql") return access.table.deleteKeys(keys.map((k) => access.physicalKey(this.entryKeyOf(k))));
    // One UNLINK for the whole batch on a single Redis (a cluster needs one slot per command, so
    // it deletes key by key below).
    if (access.kind === "redis" && !access.cluster && keys.length > 0) {
      return access.client.unlink(keys.map((k) => access.physicalKey(this.entryKeyOf(k))));
    }
    const results = await Promise.all(keys.map((k) => this.stores.entries.delete(this.entryKeyOf(k))));
    return results.filter(Boolean).length;
  }

  private async readEntry(key: string): Promise<unknown> {
    try {
      return await this.stores.entries.get(this.entryKeyOf(key));
    } catch (error) {
      // Foreign data of another Redis type under our key: a miss, which the next store overwrites.
      if (/WRONGTYPE/.test(String((error as Error)?.message ?? error))) return undefined;
      throw error;
    }
  }

  private samplePrune(): void {
    if (this.pruneEvery === 0 || !this.pruner.supported || this.pruning) return;
    this.setsSincePrune += 1;
    if (this.setsSincePrune < this.pruneEvery) return;
    this.setsSincePrune = 0;
    this.pruning = this.pruner
      .step(this.pruneBatch)
      .catch((error) => reportProblem(`prune:${this.stores.kind}`, `pruning expired rows failed on the ${this.stores.kind} store`, error, "error"))
      .finally(() => (this.pruning = undefined));
  }
}

function versionRequest(tag: TagRef): { name: string; ttlSeconds: number } {
  return { name: tag.name, ttlSeconds: tag.versionTimeout };
}
