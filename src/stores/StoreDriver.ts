import type { Keyv } from "keyv";
import type { TierChannel } from "./TierChannel";

/**
 * What a store driver sits on. For messages, metrics and tests only: the cache core never switches
 * on it (it asks a driver for a capability instead).
 *
 * @example
 * if (backend.stores.kind === "redis-cluster") console.log("on a cluster");
 */
export type StoreKind = "memory" | "redis" | "redis-cluster" | "sqlite" | "postgres" | "other";

/**
 * The three Keyv namespaces of one store: entries, the surrogate index, tag versions (locks live
 * in the versions namespace under parts no tag can produce).
 *
 * @example
 * driver.namespace("entries").get("=:/products");
 */
export type StoreNamespace = "entries" | "index" | "versions";

/**
 * A tag version as a driver writes it: the number and whether the store has the tag recorded as
 * `versioned()` (so every process answers an invalidation the same way).
 *
 * @example
 * const { version, versioned } = await driver.writeVersion!("=catalog", { mode: "bump", ttlMs: 60_000, versioned: false });
 */
export interface VersionWrite {
  version: number;
  versioned: boolean;
  /**
   * When the version key expires now (ms since the epoch), if the driver knows it: lets the core
   * skip writes that would not lengthen the key's life. Undefined: unknown (or no expiry).
   */
  expiresAt?: number;
  /**
   * The live version a `bump` replaced, read in the same atomic step (`null`: there was none), on
   * drivers that can tell; what a soft invalidation (`mode: "stale"`) needs. Undefined: unknown.
   */
  previous?: number | null;
}

/**
 * How a version is written.
 *
 * - `ensure`: return the live version, creating it (time-based, above any earlier one) when it is
 *   missing or expired; its lifetime grows to at least `ttlMs`, never shrinks.
 * - `bump`: move to a new version that never repeats; the lifetime grows to at least `ttlMs`.
 *
 * `versioned: true` records in the store that the tag is a `versioned()` one; a recorded mark is
 * kept by every later write of the key.
 *
 * @example
 * await driver.writeVersion!("=products", { mode: "ensure", ttlMs: 360_000, versioned: false });
 */
export interface VersionWriteRequest {
  mode: "ensure" | "bump";
  ttlMs: number;
  versioned: boolean;
}

/**
 * A native surrogate index a driver may offer (sorted sets on Redis, membership rows on SQL, a
 * synchronous record in memory). Members are the entries' parts in the entries namespace.
 *
 * @example
 * const index = driver.createTagIndex?.(500);
 * await index?.add("products", ["=:/p/1"], 60);
 */
export interface NativeTagIndex {
  add(tag: string, members: string[], ttlSeconds: number): Promise<void>;
  /** Optional: records `members` under each of `tags` in one round trip (what a store of one entry needs). */
  addToTags?(tags: readonly string[], members: string[], ttlSeconds: number): Promise<void>;
  getKeys(tag: string): Promise<string[]>;
  remove(tag: string): Promise<void>;
  /** Takes members out in bounded batches; members added meanwhile stay or are handed out, never lost. */
  drain(tag: string, consume: (members: string[]) => Promise<void>): Promise<void>;
  close?(): Promise<void>;
}

/**
 * One bounded step of deleting what has expired but is still kept.
 *
 * @example
 * const { deleted, passDone } = await driver.pruneStep!(500);
 */
export interface PruneStepResult {
  deleted: number;
  /** True when this step finished a whole pass over the namespaces. */
  passDone: boolean;
}

/**
 * One store kind behind one interface, Keyv's way: the required part is the three Keyv
 * namespaces; every richer operation is optional, and the cache core checks whether a driver has
 * it and falls back when it has not (a per-process mutex for versions, a record per tag for the
 * index, no cross-process lock, key-by-key deletes, no trimming). Adding a store never touches
 * the core.
 *
 * @example
 * const driver = openStoreDriver("redis://127.0.0.1:6379", "ccp");
 * await driver.ready();
 * const version = driver.writeVersion
 *   ? (await driver.writeVersion(tagPart("products"), { mode: "bump", ttlMs: 60_000, versioned: false })).version
 *   : undefined; // the core's fallback
 */
export interface StoreDriver {
  readonly kind: StoreKind;
  readonly entries: Keyv;
  readonly index: Keyv;
  readonly versions: Keyv;
  /** Bytes held in this process's memory, when the driver accounts for them (the bounded memory store). */
  localBytes?(): number;
  /** True when values are kept as objects in process memory (no serialisation). */
  readonly inMemory: boolean;
  /** True when other processes can share the store. */
  readonly shared: boolean;
  /** Longest part (key inside a namespace) the store holds: the SQL key column minus the prefix. */
  readonly partBudget: number;
  /** Resolves when the store can take commands (connects a Redis client or cluster once). */
  ready(): Promise<void>;
  /** Releases what was opened from a URL (or by default); adapters and clients you passed stay open. */
  close(): Promise<void>;

  /** Synchronous read of an unexpired value (stores in process memory). */
  peek?(namespace: StoreNamespace, part: string): unknown;
  /** Atomic version write (across processes when the store is shared). */
  writeVersion?(part: string, request: VersionWriteRequest): Promise<VersionWrite>;
  /** True when {@link writeVersion} reports the version a bump replaced (`VersionWrite.previous`). */
  readonly bumpTellsPrevious?: boolean;
  /**
   * Several `ensure` writes in one round trip (one statement on SQL), each atomic as
   * {@link writeVersion}; results in the order of `writes`. Without it the core calls
   * `writeVersion` once per part.
   */
  ensureVersions?(writes: ReadonlyArray<{ part: string; ttlMs: number; versioned: boolean }>): Promise<VersionWrite[]>;
  /** Synchronous version read (stores in process memory); undefined for a missing one. */
  peekVersion?(part: string): number | undefined;
  /** A native, cross-process-safe surrogate index on the `index` namespace. */
  createTagIndex?(batchSize: number): NativeTagIndex;
  /** Takes a lock every process on the store respects; the token, or null while another holds it. */
  acquireLock?(part: string, ttlMs: number): Promise<string | null>;
  /** Frees a lock if `token` still holds it. */
  releaseLock?(part: string, token: string): Promise<void>;
  /** Deletes entries by part in one round trip (or as few as the store allows); returns how many existed. */
  deleteEntries?(parts: string[]): Promise<number>;
  /** One bounded trimming step over the namespaces, resuming where the last one stopped. */
  pruneStep?(batchSize: number): Promise<PruneStepResult>;
  /** Restarts trimming from the beginning (a full prune starts a fresh pass). */
  restartPrune?(): void;
  /** True when a read failed only because something foreign sits under our key (then it is a miss). */
  isForeignDataError?(error: unknown): boolean;
  /** True when `error` says the store is unhealthy (unreachable, lost, timing out), not that one request's data was refused. */
  isHealthFailure?(error: unknown): boolean;
  /**
   * Leases, the invalidation log and watermarks of the two tiers (SPEC §9), on stores that can
   * carry them across processes (Redis, Redis Cluster). The same channel each call.
   */
  tierChannel?(): TierChannel;
}
