import type { Keyv } from "keyv";
import { BaseSurrogateIndex } from "../indexes/base";
import { KeyvSurrogateIndex } from "../indexes/keyv";
import { BaseCacheBackend } from "./base";
import { decodeEntry, encodeEntry } from "./entryCodec";
import { openKeyvStores, type KeyvStoreSpec, type KeyvStores } from "./openKeyvStores";
import { DEFAULT_VERSION_TIMEOUT, TagVersionStore, versionedTimeoutOf } from "./tagVersions";
import type { CachedResponse, CacheEntry, LookupResult, TagRef } from "./types";

/** Options of {@link KeyvCacheBackend}. */
export interface KeyvCacheBackendOptions {
  /** A Keyv adapter, a Keyv instance, or a URL (`redis://`, `rediss://`, `sqlite://`, `postgres://`). Default: in memory. */
  store?: KeyvStoreSpec;
  /** Prefix of the three Keyv namespaces (default `ccp`): `ccp:entries`, `ccp:index`, `ccp:versions`. */
  namespace?: string;
  /** Where plain tags are indexed; default a {@link KeyvSurrogateIndex} on the same store. */
  surrogateIndex?: BaseSurrogateIndex;
}

/**
 * The default backend: whole responses in a Keyv store, plain tags in a surrogate index, tag
 * versions in a third namespace. An entry is served only while the versions of all its tags are
 * those its request saw before the action ran, so an invalidation that races a miss always wins.
 *
 * @example
 * configureCachePage({ backends: { default: { backend: "keyv", options: { store: "redis://127.0.0.1:6379" } } } });
 * // or directly
 * const backend = new KeyvCacheBackend({ store: new KeyvRedis("redis://127.0.0.1:6379") });
 */
export class KeyvCacheBackend extends BaseCacheBackend {
  readonly stores: KeyvStores;
  readonly versions: TagVersionStore;
  readonly surrogateIndex: BaseSurrogateIndex;

  constructor(options: KeyvCacheBackendOptions = {}) {
    super(options as Record<string, unknown>);
    this.stores = openKeyvStores(options.store, options.namespace ?? "ccp");
    this.versions = new TagVersionStore(this.stores.versions);
    this.surrogateIndex = options.surrogateIndex ?? new KeyvSurrogateIndex(this.stores.index);
  }

  /** The Keyv instance holding the entries. */
  get entries(): Keyv {
    return this.stores.entries;
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    return (await this.lookup(key, [])).response;
  }

  override async lookup(key: string, tags: readonly TagRef[]): Promise<LookupResult> {
    const names = tags.map((t) => t.name);
    const [raw, current] = await Promise.all([this.stores.entries.get(key), this.versions.read(names)]);
    const entry = decodeEntry(raw);
    if (!entry) return { token: current };
    const unseen = Object.keys(entry.tags).filter((name) => !(name in current));
    const all = unseen.length > 0 ? { ...current, ...(await this.versions.read(unseen)) } : current;
    for (const [name, version] of Object.entries(entry.tags)) {
      if (all[name] !== version) return { token: current };
    }
    return { response: entry.response, metadata: entry.meta, token: current };
  }

  async set(entry: CacheEntry): Promise<void> {
    const tags = entry.tags ?? entry.surrogateKeys.map((name) => ({ name, versioned: false, versionTimeout: DEFAULT_VERSION_TIMEOUT }));
    // An entry never outlives the version keys of its tags, so an expired version key can never
    // make an old entry current again.
    const ttl = Math.min(entry.timeout, ...tags.map((t) => t.versionTimeout));
    if (!(ttl > 0)) return;
    const seen = (entry.token ?? {}) as Record<string, number>;
    const missing = tags.map((t) => t.name).filter((name) => typeof seen[name] !== "number");
    const versions = missing.length > 0 ? { ...seen, ...(await this.versions.read(missing)) } : seen;
    const tagVersions: Record<string, number> = {};
    for (const t of tags) tagVersions[t.name] = versions[t.name];
    const record = encodeEntry(entry.response, tagVersions, entry.metadata, this.stores.inMemory);
    await Promise.all([
      this.stores.entries.set(entry.key, record, ttl * 1000),
      ...tags.filter((t) => !t.versioned).map((t) => this.surrogateIndex.add(t.name, [entry.key], ttl)),
    ]);
  }

  async delete(key: string): Promise<boolean> {
    return this.stores.entries.delete(key);
  }

  /**
   * Bumps the tag's version first (O(1); from then on no entry stored before is served), then
   * deletes the entries indexed under it, in batches. Returns the new version for a tag known to
   * be versioned, else the number of entries deleted.
   */
  async invalidateBySurrogate(surrogateKey: string): Promise<number> {
    const versionedTimeout = versionedTimeoutOf(surrogateKey);
    const version = await this.versions.bump(surrogateKey, Math.max(versionedTimeout ?? 0, DEFAULT_VERSION_TIMEOUT));
    let deleted = 0;
    await this.surrogateIndex.drain(surrogateKey, async (keys) => {
      const results = await Promise.all(keys.map((k) => this.stores.entries.delete(k)));
      deleted += results.filter(Boolean).length;
    });
    return versionedTimeout !== undefined ? version : deleted;
  }

  override async close(): Promise<void> {
    await this.surrogateIndex.close();
    const seen = new Set<unknown>();
    for (const keyv of [this.stores.entries, this.stores.index, this.stores.versions]) {
      const client = (keyv.store as { client?: unknown }).client;
      if (client && seen.has(client)) continue;
      seen.add(client);
      await keyv.disconnect().catch(() => undefined);
    }
  }
}
