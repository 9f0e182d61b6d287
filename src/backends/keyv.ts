import type { Keyv } from "keyv";
import { validateOptions } from "../config/validateOptions";
import type { BaseSurrogateIndex } from "../indexes/base";
import { KeyvSurrogateIndex } from "../indexes/keyv";
import { reportProblem } from "../logger";
import { entryPart, lockPart } from "../stores/keyParts";
import { KeyMemo } from "../stores/keyMemo";
import { DEFAULT_MEMORY_MAX_BYTES } from "../stores/memory/MemoryStore";
import { openStoreDriver, type KeyvStoreSpec } from "../stores/openStoreDriver";
import { RETENTION_SLACK_MS } from "../stores/retention";
import type { StoreDriver, VersionWrite } from "../stores/StoreDriver";
import { DEFAULT_STORE_TIMEOUT_MS, isStoreHealthFailure } from "../stores/storeHealth";
import type { TierChannel, TierEvent } from "../stores/TierChannel";
import { DEFAULT_LOCAL_MAX_BYTES, LocalTier } from "../tiers/LocalTier";
import { DEFAULT_LEASE_MS, publishInvalidation, TierLink, type TierLinkEvent } from "../tiers/TierLink";
import { backendLabel } from "../telemetry/backendNames";
import { tierChannel, type CachePageTierEvent } from "../telemetry/events";
import { BackendOptionsError } from "../config/errors";
import { BaseCacheBackend } from "./base";
import { decodeEntry, encodeEntry, ownedBytes, type DecodedEntry } from "./entryCodec";
import { KeyvCacheBackendOptionsSchema } from "./keyvOptions";
import { StorePruner, type PruneOptions, type PruneResult, type SampledPruneOptions } from "./prune";
import { DEFAULT_MAX_TAGS, MAX_TAG_BYTES, TagLimitError } from "./TagLimitError";
import { DEFAULT_VERSION_TIMEOUT, TagVersionStore, versionedTimeoutOf, type VersionRequest } from "./tagVersions";
import type { CachedResponse, CacheEntry, LookupResult, TagRef } from "./types";

/**
 * Options of {@link KeyvCacheBackend}.
 *
 * @example
 * new KeyvCacheBackend({ store: "sqlite:///var/cache/pages.db", namespace: "shop", maxTags: 32 });
 * new KeyvCacheBackend({ maxBytes: 16 * 1024 * 1024 }); // in memory, at most 16 MiB
 */
export interface KeyvCacheBackendOptions {
  /**
   * A Keyv adapter, a Keyv instance, a {@link MemoryStore}, a Map, or a URL: `redis://`, `rediss://`,
   * `redis+cluster://host:port[,host:port…]`, `sqlite://`, `postgres://`. Default: a bounded
   * in-memory store ({@link MemoryStore}, `maxBytes`).
   */
  store?: KeyvStoreSpec;
  /** Prefix of the three Keyv namespaces (default `ccp`): `ccp:entries`, `ccp:index`, `ccp:versions`. */
  namespace?: string;
  /** Where plain tags are indexed; default a {@link KeyvSurrogateIndex} on the same store. */
  surrogateIndex?: BaseSurrogateIndex;
  /**
   * Upper bound of the default in-memory store, bytes (default 64 MiB): least recently used
   * entries are evicted beyond it. A {@link MemoryStore} you pass has its own; a plain Map is yours (unbounded).
   */
  maxBytes?: number;
  /**
   * Tags one response may carry (default 64), each at most 256 bytes. A response over the limit
   * is not stored: {@link KeyvCacheBackend.set} throws a {@link TagLimitError}.
   */
  maxTags?: number;
  /**
   * Trimming of expired rows on writes (SQLite, PostgreSQL, a plain Map): after every `every`-th
   * store, one bounded step in the background that looks at `batchSize` rows, or at twice the rows
   * those stores wrote if that is more, so trimming keeps up with what is written. Default
   * `{ every: 16, batchSize: 100 }`; `false` or `{ every: 0 }` turns it off (then call
   * {@link KeyvCacheBackend.prune} yourself, e.g. from a timer).
   */
  prune?: SampledPruneOptions | false;
  /**
   * How long one call to the store may take before it counts as unreachable, ms. Unset: the
   * configured `storeTimeoutMs` (300 ms by default).
   */
  storeTimeoutMs?: number;
  /**
   * The two tiers (SPEC §9; Redis and Redis Cluster stores only): a bounded tier in this process's
   * memory in front of the shared store, so a hit makes no network round trip, and invalidations
   * that reach every instance's tier before they resolve. `maxBytes` bounds the tier (default 32
   * MiB); `leaseMs` (default 2000) is how long an instance that cannot reach Redis may go on
   * serving local hits, and how long an invalidation may wait for it. See docs/two-tiers.md.
   *
   * @example
   * new KeyvCacheBackend({ store: "redis://127.0.0.1:6379", local: { maxBytes: 64 * 1024 * 1024, leaseMs: 2000 } });
   */
  local?: LocalTierOptions;
}

/**
 * The `local` option of {@link KeyvCacheBackend}: the in-process tier in front of Redis.
 *
 * @example
 * const local: LocalTierOptions = { maxBytes: 32 * 1024 * 1024, leaseMs: 2000 };
 */
export interface LocalTierOptions {
  /** Bytes the local tier holds at most (least recently used entries go first); default 32 MiB. */
  maxBytes?: number;
  /** The lease, ms (100–60000, default 2000). */
  leaseMs?: number;
}

/** Entries deleted per statement / pipeline when a tag is invalidated. */
const DELETE_BATCH = 500;
/** How long a plain tag's version created by a lookup lives before its entry is stored (which lengthens it). */
const LOOKUP_VERSION_SECONDS = RETENTION_SLACK_MS / 1000;
/** Rows looked at per trimming step, at most, whatever was written meanwhile. */
const MAX_TRIM_STEP = 5000;

/** The local tier's epoch when a lookup began, by the token that lookup returned (for the store that follows). */
const lookupEpochs = new WeakMap<object, number>();

function validVersion(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/**
 * The default backend: whole responses in a Keyv store, plain tags in a surrogate index, tag
 * versions in a third namespace, all through one store driver (memory, Redis, Redis Cluster,
 * SQLite, PostgreSQL, any other Keyv adapter) whose optional capabilities it uses when present
 * and falls back from when not. Every entry records the versions of its tags seen before its
 * action ran, and is served only while they are still current; invalidating a tag first moves its
 * version (atomically, to a value never used before), so once `invalidateTag` resolves no process
 * sharing the store serves an entry computed before the call. Plain tags' entries are then deleted
 * in bounded batches.
 *
 * Space: the default memory store holds at most `maxBytes`; SQL stores trim expired rows as they
 * write; a plain tag's version lives as long as its longest entry plus a minute; a response costs
 * the store O(body + headers + key + tags) (index members are the entry's part, at most 128 chars).
 *
 * @example
 * configureCachePage({ backends: { default: { backend: "keyv", options: { store: "redis://127.0.0.1:6379" } } } });
 * // or directly
 * const backend = new KeyvCacheBackend({ store: "postgresql://cache@127.0.0.1:5432/app", namespace: "shop" });
 */
export class KeyvCacheBackend extends BaseCacheBackend {
  /** The store driver the three namespaces sit on. */
  readonly stores: StoreDriver;
  readonly versions: TagVersionStore;
  readonly surrogateIndex: BaseSurrogateIndex;
  /** Tags one response may carry. */
  readonly maxTags: number;
  private readonly pruner: StorePruner;
  private readonly pruneEvery: number;
  private readonly pruneBatch: number;
  private setsSincePrune = 0;
  private rowsSincePrune = 0;
  private pruning?: Promise<unknown>;
  /** The local tier (with `local`). */
  readonly localTier?: LocalTier;
  /** The lease and log reader of the local tier (with `local`). */
  readonly tierLink?: TierLink;
  /** The invalidation log, on stores that carry one (Redis): every invalidation goes through it. */
  private readonly channel?: TierChannel;
  /** Storage key → entry part, derived once per key (every hit needs it). */
  private readonly entryParts: KeyMemo;

  /** The rules of its options, checked by its constructor and by `configureCachePage`. */
  static readonly optionsSchema = KeyvCacheBackendOptionsSchema;

  constructor(options: KeyvCacheBackendOptions = {}) {
    validateOptions("KeyvCacheBackend", KeyvCacheBackendOptionsSchema, options);
    super(options as Record<string, unknown>);
    const prune = options.prune === false ? { every: 0 } : (options.prune ?? {});
    this.pruneEvery = prune.every ?? 16;
    this.pruneBatch = prune.batchSize ?? 100;
    this.maxTags = options.maxTags ?? DEFAULT_MAX_TAGS;
    const maxBytes = options.maxBytes ?? DEFAULT_MEMORY_MAX_BYTES;
    this.stores = openStoreDriver(options.store, options.namespace ?? "ccp", { maxBytes });
    this.storeScope = this.stores.shared ? "shared" : "process";
    const budget = this.stores.partBudget;
    this.entryParts = new KeyMemo((key) => entryPart(key, budget));
    if (options.storeTimeoutMs !== undefined) this.storeTimeoutMs = options.storeTimeoutMs;
    if (this.stores.localBytes) this.localBytes = () => this.stores.localBytes!();
    this.channel = this.stores.tierChannel?.();
    if (options.local) {
      if (!this.channel) {
        throw new BackendOptionsError(
          `KeyvCacheBackend: local needs a Redis or Redis Cluster store, which carries the leases and the invalidation log (this store is ${this.stores.kind}); ` +
            'use store: "redis://…" or remove local',
          "local",
        );
      }
      const tier = new LocalTier(options.local.maxBytes ?? DEFAULT_LOCAL_MAX_BYTES);
      this.localTier = tier;
      this.tierLink = new TierLink(this.channel, tier, {
        leaseMs: options.local.leaseMs ?? DEFAULT_LEASE_MS,
        graceMs: this.graceMs(),
        onEvent: (event) => this.reportTierEvent(event),
      });
      this.localBytes = () => tier.bytes();
      this.localTierServing = () => this.tierLink!.serving();
      this.tierLink.start();
    }
    this.versions = new TagVersionStore(this.stores);
    this.surrogateIndex = options.surrogateIndex ?? new KeyvSurrogateIndex(this.stores);
    this.pruner = new StorePruner(this.stores);
    if (this.versions.tellsPrevious) this.invalidateBySurrogatesStale = (tags) => this.markStale(tags);
  }

  /** The Keyv instance holding the entries. */
  get entries(): Keyv {
    return this.stores.entries;
  }

  /** The part an entry with this storage key is stored under in the entries namespace (and its member in the index). */
  entryKeyOf(key: string): string {
    return this.entryParts.get(key);
  }

  /**
   * True when `error` (from a call to this backend) says its store is unhealthy, not that one
   * request's data was refused: what the circuit breaker counts.
   *
   * @example
   * backend.isStoreHealthFailure(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })); // true
   */
  isStoreHealthFailure(error: unknown): boolean {
    return this.stores.isHealthFailure ? this.stores.isHealthFailure(error) : isStoreHealthFailure(error);
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
    const epoch = this.localTier?.epoch;
    await this.stores.ready();
    const names = [...new Set(tags.map((t) => t.name))];
    const [raw, current] = await Promise.all([this.readEntry(key), this.versions.read(names)]);
    if (epoch !== undefined) lookupEpochs.set(current, epoch);
    const entry = decodeEntry(raw);
    let stale: { response: CachedResponse; metadata: Record<string, unknown>; staleSince: number } | undefined;
    if (entry) {
      const unseen = Object.keys(entry.tags).filter((name) => !(name in current));
      const all = unseen.length > 0 ? { ...current, ...(await this.versions.read(unseen)) } : current;
      const outdated = Object.keys(entry.tags).filter((name) => all[name] !== entry.tags[name]);
      if (outdated.length === 0) {
        if (epoch !== undefined) this.keepLocally(this.entryKeyOf(key), entry, entry.expiresAt, epoch);
        return { response: entry.response, metadata: entry.meta, token: current };
      }
      const staleSince = await this.softlyInvalidatedSince(outdated, entry.tags, all);
      if (staleSince !== undefined) stale = { response: entry.response, metadata: entry.meta, staleSince };
    }
    // A response over the tag limits will not be stored: creating its versions would only cost the store.
    if (this.tagLimitProblem(tags) !== undefined) return { token: current };
    const requests = tags.map((t) => versionRequest(t, t.versioned ? t.versionTimeout : LOOKUP_VERSION_SECONDS));
    const token = await this.versions.ensure(requests, current);
    if (epoch !== undefined) lookupEpochs.set(token, epoch);
    return stale ? { ...stale, token } : { token };
  }

  /**
   * When every tag of `outdated` moved on from the entry's version only by a soft invalidation
   * (and has not moved since), the time of the latest of them; else undefined (a miss).
   */
  private async softlyInvalidatedSince(
    outdated: string[],
    seen: Record<string, number>,
    current: Record<string, number | undefined>,
  ): Promise<number | undefined> {
    const marks = await this.versions.readSoftMarks(outdated);
    let since = 0;
    for (let i = 0; i < outdated.length; i += 1) {
      const mark = marks[i];
      const name = outdated[i];
      if (!mark || mark.previous !== seen[name] || mark.version !== current[name]) return undefined;
      since = Math.max(since, mark.since);
    }
    return since;
  }

  /**
   * The in-memory store's synchronous hit check: the entry when it is there, unexpired, and every
   * tag version it recorded is current. Anything else (a miss, a store on the network) gives
   * undefined and {@link lookup} takes over.
   */
  override lookupSync(key: string): LookupResult | undefined {
    const tier = this.localTier;
    if (tier) {
      if (!this.tierLink!.serving()) return undefined;
      const local = tier.get(this.entryKeyOf(key));
      return local ? { response: local.response, metadata: local.meta } : undefined;
    }
    const peek = this.stores.peek;
    if (!peek) return undefined;
    const entry = decodeEntry(peek.call(this.stores, "entries", this.entryKeyOf(key)));
    if (!entry) return undefined;
    if (this.versions.matchesSync(entry.tags) !== true) return undefined;
    return { response: entry.response, metadata: entry.meta };
  }

  /**
   * Stores the entry with the versions in `entry.token` (what its lookup saw), then records it
   * under its plain tags. The entry is written before its index memberships: an invalidation that
   * takes a membership always finds the entry to delete, so none is left behind unindexed. If the
   * index cannot be written the entry is deleted again. Without a token (a `set` that no `lookup`
   * preceded) the entry records the versions current when it is stored. An entry one of whose
   * tags was invalidated since its lookup is not stored (it could never be served).
   *
   * Each tag's version key is made to live at least as long as the entry (plus a minute), never
   * shorter than it already does.
   *
   * @throws {TagLimitError} when the entry carries more than `maxTags` tags or a tag over 256
   * bytes: nothing is stored.
   */
  async set(entry: CacheEntry): Promise<void> {
    const tags = entry.tags ?? entry.surrogateKeys.map((name) => ({ name, versioned: false, versionTimeout: DEFAULT_VERSION_TIMEOUT }));
    this.checkTagLimits(entry.key, tags);
    // An entry never outlives the version keys of its versioned tags.
    const ttl = Math.min(entry.timeout, ...tags.filter((t) => t.versioned).map((t) => t.versionTimeout));
    if (!(ttl > 0)) return;
    await this.stores.ready();
    const seen = (entry.token ?? {}) as Record<string, number | undefined>;
    const holdSeconds = ttl + RETENTION_SLACK_MS / 1000;
    const current = await this.versions.ensure(
      tags.map((t) => versionRequest(t, t.versioned ? Math.max(t.versionTimeout, holdSeconds) : holdSeconds)),
      seen,
      true,
    );
    const tagVersions: Record<string, number> = {};
    for (const t of tags) {
      const looked = seen[t.name];
      // Invalidated while the response was computed: it could never be served.
      if (validVersion(looked) && looked !== current[t.name]) return;
      tagVersions[t.name] = validVersion(looked) ? looked : current[t.name];
    }
    const ttlMs = Math.ceil(ttl * 1000);
    const expiresAt = this.stores.inMemory ? undefined : Date.now() + ttlMs;
    const record = encodeEntry(entry.response, tagVersions, entry.metadata, this.stores.inMemory, expiresAt);
    const part = this.entryKeyOf(entry.key);
    await this.stores.entries.set(part, record, ttlMs);
    const plain = [...new Set(tags.filter((t) => !t.versioned).map((t) => t.name))];
    try {
      const index = this.surrogateIndex;
      if (index instanceof KeyvSurrogateIndex) await index.addToTags(plain, [part], ttl);
      else await Promise.all(plain.map((name) => index.add(name, [part], ttl)));
    } catch (error) {
      await this.stores.entries.delete(part).catch(() => undefined);
      throw error;
    }
    this.trimAfterWrite(1 + plain.length + tags.length);
    const epoch = entry.token && typeof entry.token === "object" ? lookupEpochs.get(entry.token) : undefined;
    if (epoch !== undefined) this.keepLocally(part, { response: entry.response, tags: tagVersions, meta: entry.metadata }, expiresAt, epoch);
  }

  /**
   * Deletes one entry; on a store with an invalidation log (Redis) every local tier drops it
   * before this resolves.
   */
  async delete(key: string): Promise<boolean> {
    await this.stores.ready();
    const part = this.entryKeyOf(key);
    const existed = await this.stores.entries.delete(part);
    await this.publish({ tags: [], parts: [part] });
    return existed;
  }

  /**
   * Bumps the tag's version first (O(1); from then on no entry stored before is served, in any
   * process), then deletes the entries indexed under it in batches. Returns the new version for a
   * versioned tag (known here, or recorded as versioned in the store by any process), else the
   * number of entries deleted.
   */
  async invalidateBySurrogate(surrogateKey: string): Promise<number> {
    const outcome = await this.invalidateOne(surrogateKey);
    return outcome.version ?? outcome.deleted;
  }

  /**
   * Invalidates `tags` (each as {@link invalidateBySurrogate} does, all at once) and says what
   * happened: the entries deleted, and the new version of each tag that is `versioned()` (known
   * here or recorded so in the store). A name used both ways counts its deleted entries and has
   * its version listed.
   *
   * @example
   * await backend.invalidateTagsDetailed(["products", "catalog"]); // { deleted: 12, versions: { catalog: 1717171717171717 } }
   */
  override async invalidateTagsDetailed(tags: string[]): Promise<{ deleted: number; versions: Record<string, number> }> {
    const names = [...new Set(tags)];
    // Versions first (O(1) each): from then on no entry stored before is served from the store.
    const bumps = await this.bumpAll(names);
    // Every local tier learns the new versions (and this call waits for them) while the index drains.
    const [counts] = await Promise.all([
      Promise.all(names.map((tag) => this.drainTag(tag))),
      this.publish({ tags: names.map((tag, i) => [tag, bumps[i].version]), parts: [] }),
    ]);
    const versions: Record<string, number> = {};
    let deleted = 0;
    names.forEach((tag, i) => {
      deleted += counts[i];
      if (bumps[i].versioned) versions[tag] = bumps[i].version;
    });
    return { deleted, versions };
  }

  /**
   * Soft invalidation (`invalidateTag(t, { mode: "stale" })`, SPEC §9): each tag moves to a new
   * version like a hard invalidation (so no entry is a fresh hit any more, on any instance or
   * local tier), and the move is recorded as soft: an entry computed under the version it replaced
   * is served STALE within its action's `staleWhileRevalidate` while one refresh runs, and is a
   * miss for actions without it. Nothing is deleted. Returns 0 (no entry deleted).
   *
   * Present on stores whose version writes say which version they replaced (Redis, Redis
   * Cluster, memory); on SQL stores `mode: "stale"` is refused.
   */
  declare invalidateBySurrogatesStale?: (tags: string[]) => Promise<number>;

  private async markStale(tags: string[]): Promise<number> {
    const names = [...new Set(tags)];
    const since = Date.now();
    const bumps = await this.bumpAll(names);
    await Promise.all([
      ...names.map((tag, i) => {
        const { previous, version, expiresAt } = bumps[i];
        if (typeof previous !== "number") return undefined;
        // The mark lives as long as the version key: as long as any entry it may let through.
        const ttlMs = typeof expiresAt === "number" ? expiresAt - Date.now() : LOOKUP_VERSION_SECONDS * 1000;
        return this.versions.writeSoftMark(tag, { previous, version, since }, ttlMs);
      }),
      this.publish({ tags: names.map((tag, i) => [tag, bumps[i].version]), parts: [] }),
    ]);
    return 0;
  }

  /** Moves each tag to a new version, all at once (a versioned tag's key keeps its own lifetime). */
  private async bumpAll(names: string[]): Promise<VersionWrite[]> {
    await this.stores.ready();
    const bumps = await Promise.all(
      names.map((tag) => {
        const localTimeout = versionedTimeoutOf(tag);
        // A plain tag's new version needs to live only until entries stored under it lengthen it.
        return this.versions.bumpTag(tag, localTimeout ?? LOOKUP_VERSION_SECONDS, localTimeout !== undefined);
      }),
    );
    this.noteStoreProgress();
    return bumps;
  }

  /** Bumps, then drains the index in batches, noting progress after each batch deleted. */
  private async invalidateOne(surrogateKey: string): Promise<{ deleted: number; version?: number }> {
    const { deleted, versions } = await this.invalidateTagsDetailed([surrogateKey]);
    return { deleted, version: versions[surrogateKey] };
  }

  /** Deletes the entries indexed under `tag`, in batches; returns how many there were. */
  private async drainTag(tag: string): Promise<number> {
    let deleted = 0;
    await this.surrogateIndex.drain(tag, async (parts) => {
      for (let i = 0; i < parts.length; i += DELETE_BATCH) {
        deleted += await this.deleteEntries(parts.slice(i, i + DELETE_BATCH));
        // A large tag takes many batches: each one shows the store is answering (the invalidation deadline restarts).
        this.noteStoreProgress();
      }
    });
    return deleted;
  }

  /**
   * Sends an invalidation through the log, on stores that have one: it resolves once every
   * instance's local tier has applied it or lost its lease (SPEC §9). Other stores have no local
   * tiers to reach.
   */
  private async publish(event: TierEvent): Promise<void> {
    if (!this.channel) return;
    const progress = () => this.noteStoreProgress();
    if (this.tierLink) await this.tierLink.publish(event, progress);
    else await publishInvalidation(this.channel, event, "", this.graceMs(), progress, (e) => this.reportTierEvent(e));
  }

  /** Publishes what happened to the lease on `custom-cache-page:tier`. */
  private reportTierEvent(event: TierLinkEvent): void {
    if (!tierChannel.hasSubscribers) return;
    const message: CachePageTierEvent = { backend: backendLabel(this), ...event };
    tierChannel.publish(message);
  }

  /** How long an invalidation waits for another instance before revoking its lease: the store timeout. */
  private graceMs(): number {
    return this.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  }

  /** Keeps an entry read from or written to the store in the local tier, until it expires there. */
  private keepLocally(part: string, entry: Pick<DecodedEntry, "response" | "tags" | "meta">, expiresAt: number | undefined, epoch: number): void {
    if (!this.localTier || expiresAt === undefined) return;
    const response = { ...entry.response, body: ownedBytes(entry.response.body) };
    this.localTier.put(part, { response, tags: entry.tags, meta: entry.meta }, expiresAt, epoch);
  }

  /**
   * Deletes expired entries, index memberships and versions still kept by the store, in bounded
   * batches: needed on SQLite and PostgreSQL (and a plain Map), where Keyv only drops an expired
   * row when someone reads it; writes already trim as they go (see `prune` in the options). On
   * Redis the server expires keys itself, and the default memory store drops expired entries by
   * timer: there this returns at once.
   *
   * @example
   * setInterval(() => void backend.prune({ batchSize: 1000 }), 60_000).unref();
   */
  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    await this.stores.ready();
    await this.pruning?.catch(() => undefined);
    return this.pruner.run(options);
  }

  /**
   * A lock shared by every process on the store (stampede protection), when the store's driver
   * offers one: `SET NX PX` on Redis, one upsert that only replaces an expired row on SQLite /
   * PostgreSQL, a synchronous update in memory. Returns the holder's token, `null` while another
   * holder has it, and `undefined` on adapters without an atomic way to take it.
   */
  override async acquireLock(name: string, ttlMs: number): Promise<string | null | undefined> {
    if (!this.stores.acquireLock) return undefined;
    await this.stores.ready();
    return this.stores.acquireLock(lockPart(name, this.stores.partBudget), Math.max(1, Math.ceil(ttlMs)));
  }

  /** Frees a lock taken with {@link acquireLock} if `token` still holds it. */
  override async releaseLock(name: string, token: string): Promise<void> {
    if (!this.stores.releaseLock) return;
    await this.stores.ready();
    await this.stores.releaseLock(lockPart(name, this.stores.partBudget), token);
  }

  override async close(): Promise<void> {
    await this.tierLink?.close();
    await this.pruning?.catch(() => undefined);
    await this.surrogateIndex.close();
    await this.stores.close();
  }

  private checkTagLimits(key: string, tags: readonly TagRef[]): void {
    const problem = this.tagLimitProblem(tags);
    if (problem !== undefined) throw new TagLimitError(key, `not stored: ${problem}`);
  }

  /** Why `tags` are over the limits, or undefined when they are within them. */
  private tagLimitProblem(tags: readonly TagRef[]): string | undefined {
    const names = new Set(tags.map((t) => t.name));
    if (names.size > this.maxTags) return `the response carries ${names.size} tags, more than maxTags (${this.maxTags}); use fewer tags or raise maxTags`;
    for (const name of names) {
      const bytes = Buffer.byteLength(name, "utf8");
      if (bytes > MAX_TAG_BYTES)
        return `tag "${name.slice(0, 40)}…" is ${bytes} bytes, more than ${MAX_TAG_BYTES}; use a shorter tag (e.g. surrogateFromModel(name, id))`;
    }
    return undefined;
  }

  /** Deletes entries by part: in one round trip when the driver can, else key by key. */
  private async deleteEntries(parts: string[]): Promise<number> {
    if (this.stores.deleteEntries) return this.stores.deleteEntries(parts);
    const results = await Promise.all(parts.map((part) => this.stores.entries.delete(part)));
    return results.filter(Boolean).length;
  }

  private async readEntry(key: string): Promise<unknown> {
    try {
      return await this.stores.entries.get(this.entryKeyOf(key));
    } catch (error) {
      if (this.stores.isForeignDataError?.(error)) return undefined;
      throw error;
    }
  }

  /**
   * Trimming keeps up with writing: every `every` stores, one step that looks at twice the rows
   * those stores wrote (at least `batchSize`), in the background, one at a time.
   */
  private trimAfterWrite(rowsWritten: number): void {
    if (this.pruneEvery === 0 || !this.pruner.supported) return;
    this.setsSincePrune += 1;
    this.rowsSincePrune += rowsWritten;
    if (this.setsSincePrune < this.pruneEvery || this.pruning) return;
    const batch = Math.min(MAX_TRIM_STEP, Math.max(this.pruneBatch, 2 * this.rowsSincePrune));
    this.setsSincePrune = 0;
    this.rowsSincePrune = 0;
    this.pruning = this.pruner
      .step(batch)
      .catch((error) => reportProblem(`prune:${this.stores.kind}`, `trimming expired rows failed on the ${this.stores.kind} store`, error, "error"))
      .finally(() => (this.pruning = undefined));
  }
}

function versionRequest(tag: TagRef, ttlSeconds: number): VersionRequest {
  return { name: tag.name, ttlSeconds, versioned: tag.versioned };
}
