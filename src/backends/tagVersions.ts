import type { Keyv } from "keyv";
import { KeyedMutex } from "../stores/KeyedMutex";
import { softMarkPart, tagPart, versionedMarkPart } from "../stores/keyParts";
import { KeyMemo } from "../stores/keyMemo";
import { RETENTION_SLACK_MS } from "../stores/retention";
import type { StoreDriver, VersionWrite, VersionWriteRequest } from "../stores/StoreDriver";
import { nextVersion, versionFloor } from "../stores/versionClock";

export { nextVersion, versionFloor };

/**
 * Default lifetime of a versioned tag's version key: 10 days, as in the Python original.
 *
 * @example
 * versioned("catalog", DEFAULT_VERSION_TIMEOUT); // the same as versioned("catalog")
 */
export const DEFAULT_VERSION_TIMEOUT = 864000;

const knownVersioned = new Map<string, number>();

/**
 * How much of its retention slack (a minute beyond its entry) a version key may have used up
 * before a store lengthens it again. A store whose tags' keys are known to live long enough
 * writes no version at all; each key then still outlives every entry it guards by at least
 * `RETENTION_SLACK_MS - EXTEND_MARGIN_MS`, and never lives longer than its longest entry plus
 * `RETENTION_SLACK_MS`.
 *
 * @example
 * // an entry stored for 300 s: its tag's key is left alone if it is known to live 330 s more
 */
export const EXTEND_MARGIN_MS = RETENTION_SLACK_MS / 2;

/** Version keys a {@link TagVersionStore} remembers (bounded: tags can come from request input). */
const REMEMBERED_VERSIONS = 4096;

/**
 * Remembers that a name is used as a versioned tag in this process, with its version lifetime,
 * so that invalidating it keeps the version key long enough. (Whether a name is versioned is also
 * recorded in the store, so a process that never saw the declaration answers the same.)
 *
 * @example
 * rememberVersionedTag("catalog", 3600); // what versioned("catalog", 3600) does
 */
export function rememberVersionedTag(name: string, timeout: number): void {
  const previous = knownVersioned.get(name);
  if (previous === undefined || timeout > previous) knownVersioned.set(name, timeout);
}

/**
 * The version lifetime of a name known to be versioned here, else undefined.
 *
 * @example
 * versionedTimeoutOf("catalog"); // 3600 after versioned("catalog", 3600), else undefined
 */
export function versionedTimeoutOf(name: string): number | undefined {
  return knownVersioned.get(name);
}

/**
 * A tag and the lifetime its version key needs; `versioned` records the tag as `versioned()` in the store.
 *
 * @example
 * await versions.ensure([{ name: "products", ttlSeconds: 360 }]);
 */
export interface VersionRequest {
  name: string;
  ttlSeconds: number;
  versioned?: boolean;
}

function validVersion(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/**
 * A tag's last soft invalidation: entries computed under `previous` may be served stale (while
 * refreshed) as long as the tag is still at `version`, from `since` (ms since the epoch) on.
 *
 * @example
 * const mark: SoftMark = { previous: 1764115200000000, version: 1764115260000000, since: Date.now() };
 */
export interface SoftMark {
  previous: number;
  version: number;
  since: number;
}

function isSoftMark(value: unknown): value is SoftMark {
  const m = value as Partial<SoftMark> | null;
  return !!m && typeof m === "object" && validVersion(m.previous) && validVersion(m.version) && typeof m.since === "number";
}

/**
 * Tag versions in the versions namespace of a store driver. A version key missing (never
 * created, expired, evicted, unreadable) reads as `undefined`, which no stored entry can match:
 * every entry records real versions, created when its request looked them up. New versions are
 * time-based and writes are atomic where the driver offers `writeVersion` (a Lua script on Redis,
 * one SQL statement on SQLite / PostgreSQL, a synchronous update in memory); on other adapters
 * they are serialised within this process. Two processes bumping at once never get the same
 * version and a version never repeats. A key's lifetime only grows.
 *
 * @example
 * const versions = new TagVersionStore(openStoreDriver("redis://127.0.0.1:6379", "ccp"));
 * const seen = await versions.ensure([{ name: "products", ttlSeconds: 360 }]);
 * await versions.bump("products", 60); // an entry stored with `seen` is now stale
 */
export class TagVersionStore {
  private readonly mutex = new KeyedMutex();
  /** Version keys seen lately (part → version and expiry), for {@link ensure} with `extend`. */
  private readonly remembered = new Map<string, { version: number; expiresAt: number }>();

  /** Tag name → version part, derived once per name (every hit of a tagged page needs it). */
  private readonly parts: KeyMemo;

  constructor(readonly driver: StoreDriver) {
    const budget = driver.partBudget;
    this.parts = new KeyMemo((name) => tagPart(name, budget));
  }

  /** The Keyv namespace holding the versions. */
  get keyv(): Keyv {
    return this.driver.versions;
  }

  /** The part the version of `name` is stored under in the Keyv namespace. */
  keyOf(name: string): string {
    return this.parts.get(name);
  }

  /**
   * Current versions of `names`, `undefined` for a name without one, in one round trip. What it
   * reads (version and expiry) is remembered, so that a store that follows need not write a
   * version key whose life is already long enough.
   */
  async read(names: readonly string[]): Promise<Record<string, number | undefined>> {
    const sync = this.readSync(names);
    if (sync) return sync;
    const versions: Record<string, number | undefined> = {};
    if (names.length === 0) return versions;
    await this.driver.ready();
    const parts = names.map((name) => this.keyOf(name));
    const values = (parts.length === 1 ? [await this.keyv.get(parts[0], { raw: true })] : await this.keyv.getMany(parts, { raw: true })) as Array<
      { value?: unknown; expires?: unknown } | undefined
    >;
    names.forEach((name, i) => {
      const raw = values[i];
      const version = raw && typeof raw === "object" ? raw.value : undefined;
      versions[name] = validVersion(version) ? version : undefined;
      if (validVersion(version)) this.learn(parts[i], version, raw?.expires);
    });
    return versions;
  }

  /**
   * Whether every tag still has the version recorded in `tags`, read synchronously from a store in
   * process memory without building an object on this hit path; undefined for other stores.
   */
  matchesSync(tags: Readonly<Record<string, number>>): boolean | undefined {
    const peek = this.driver.peekVersion;
    if (!peek) return undefined;
    for (const name in tags) if (peek.call(this.driver, this.keyOf(name)) !== tags[name]) return false;
    return true;
  }

  /** The current versions, read synchronously from a store in process memory; undefined for other stores. */
  readSync(names: readonly string[]): Record<string, number | undefined> | undefined {
    const peek = this.driver.peekVersion;
    if (!peek) return undefined;
    const versions: Record<string, number | undefined> = {};
    for (const name of names) versions[name] = peek.call(this.driver, this.keyOf(name));
    return versions;
  }

  /**
   * The current version of each tag, creating the missing ones; each key then lives at least the
   * request's `ttlSeconds` (never shortened). Concurrent callers (in any process) get the same
   * version for a tag. `known` holds versions already read: unless `extend` is set, only the
   * missing ones cost a round trip. With `extend` a known version's key is lengthened too, unless
   * it is already known (from a read or write of this store) to live at least `ttlSeconds` minus
   * {@link EXTEND_MARGIN_MS} more; a tag known to have moved past its `known` version gets the
   * newer one (so the caller can tell it was invalidated). All writes go in one round trip where
   * the driver can.
   */
  async ensure(requests: readonly VersionRequest[], known: Record<string, number | undefined> = {}, extend = false): Promise<Record<string, number>> {
    const result: Record<string, number> = {};
    const pending = new Map<string, VersionRequest>();
    // In process memory a write is a synchronous update: nothing to save there.
    const skipLongEnough = extend && !this.driver.peekVersion;
    const now = Date.now();
    for (const r of requests) {
      const v = known[r.name];
      if (validVersion(v) && !extend) {
        result[r.name] = v;
        continue;
      }
      if (validVersion(v) && skipLongEnough && !pending.has(r.name)) {
        const seen = this.remembered.get(this.keyOf(r.name));
        if (seen && seen.version > v) {
          result[r.name] = seen.version;
          continue;
        }
        if (seen && seen.version === v && seen.expiresAt >= now + toMs(r.ttlSeconds) - EXTEND_MARGIN_MS) {
          result[r.name] = v;
          continue;
        }
      }
      const previous = pending.get(r.name);
      pending.set(r.name, {
        name: r.name,
        ttlSeconds: Math.max(r.ttlSeconds, previous?.ttlSeconds ?? 0),
        versioned: r.versioned === true || previous?.versioned === true,
      });
      delete result[r.name];
    }
    if (pending.size === 0) return result;
    const list = [...pending.values()];
    const written = await this.writeEnsured(list);
    list.forEach((r, i) => (result[r.name] = written[i].version));
    return result;
  }

  /** `ensure` writes, in one round trip when the driver can batch them. */
  private async writeEnsured(list: readonly VersionRequest[]): Promise<VersionWrite[]> {
    if (list.length > 1 && this.driver.ensureVersions) {
      await this.driver.ready();
      const parts = list.map((r) => this.keyOf(r.name));
      const written = await this.driver.ensureVersions(
        parts.map((part, i) => ({ part, ttlMs: toMs(list[i].ttlSeconds), versioned: list[i].versioned === true })),
      );
      written.forEach((w, i) => this.learn(parts[i], w.version, w.expiresAt));
      return written;
    }
    return Promise.all(list.map((r) => this.write(r.name, { mode: "ensure", ttlMs: toMs(r.ttlSeconds), versioned: r.versioned === true })));
  }

  /**
   * Moves `name` to a new version that never repeats; its key lives at least `ttlSeconds` more.
   * Returns the new version and whether the store has the tag recorded as versioned.
   */
  async bumpTag(name: string, ttlSeconds: number, versioned = false): Promise<VersionWrite> {
    return this.write(name, { mode: "bump", ttlMs: toMs(ttlSeconds), versioned });
  }

  /** Moves `name` to a new version that never repeats; returns it. */
  async bump(name: string, ttlSeconds: number): Promise<number> {
    return (await this.bumpTag(name, ttlSeconds)).version;
  }

  /** True when a bump here reports the version it replaced, which soft invalidation needs. */
  get tellsPrevious(): boolean {
    return !this.driver.writeVersion || this.driver.bumpTellsPrevious === true;
  }

  /**
   * Records that `name` moved from `mark.previous` to `mark.version` softly (`mode: "stale"`) at
   * `mark.since`: entries computed under `previous` may be served stale while refreshed.
   */
  async writeSoftMark(name: string, mark: SoftMark, ttlMs: number): Promise<void> {
    await this.driver.ready();
    await this.keyv.set(softMarkPart(this.keyOf(name)), mark, Math.max(1, Math.ceil(ttlMs)));
  }

  /** The soft marks of `names` (undefined where there is none), in one round trip. */
  async readSoftMarks(names: readonly string[]): Promise<Array<SoftMark | undefined>> {
    if (names.length === 0) return [];
    await this.driver.ready();
    const parts = names.map((name) => softMarkPart(this.keyOf(name)));
    const values = (parts.length === 1 ? [await this.keyv.get(parts[0])] : await this.keyv.getMany(parts)) as unknown[];
    return values.map((v) => (isSoftMark(v) ? v : undefined));
  }

  private async write(name: string, request: VersionWriteRequest): Promise<VersionWrite> {
    await this.driver.ready();
    const part = this.keyOf(name);
    // Adapters without an atomic update: serialised within this process only.
    const written = this.driver.writeVersion
      ? await this.driver.writeVersion(part, request)
      : await this.mutex.run(part, () => this.writeUnderLock(part, request));
    this.learn(part, written.version, written.expiresAt);
    return written;
  }

  /**
   * Remembers that the key `part` held `version` until at least `expiresAt` (what a read or write
   * just saw). The last answer wins (a recreated key may restart lower after a clock step); for
   * the same version the later expiry is kept, since a key's life only grows. Bounded: the oldest
   * records go first. Only an optimisation: what is served never depends on it.
   */
  private learn(part: string, version: number, expiresAt: unknown): void {
    if (typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) return;
    const previous = this.remembered.get(part);
    const expires = previous?.version === version ? Math.max(previous.expiresAt, expiresAt) : expiresAt;
    this.remembered.delete(part);
    if (this.remembered.size >= REMEMBERED_VERSIONS) this.remembered.delete(this.remembered.keys().next().value as string);
    this.remembered.set(part, { version, expiresAt: expires });
  }

  private async writeUnderLock(part: string, { mode, ttlMs, versioned }: VersionWriteRequest): Promise<VersionWrite> {
    const now = Date.now();
    const [raw, mark] = await Promise.all([
      this.keyv.get(part, { raw: true }) as Promise<{ value?: unknown; expires?: number } | undefined>,
      this.keyv.get(versionedMarkPart(part)),
    ]);
    const current = validVersion(raw?.value) ? raw.value : undefined;
    const isVersioned = versioned || mark === 1;
    const remaining = typeof raw?.expires === "number" ? raw.expires - now : 0;
    const ttl = Math.max(ttlMs, remaining);
    const version = mode === "ensure" && current !== undefined ? current : nextVersion(current ?? 0);
    await this.keyv.set(part, version, ttl);
    if (isVersioned) await this.keyv.set(versionedMarkPart(part), 1, ttl);
    const live = current !== undefined && (typeof raw?.expires !== "number" || raw.expires > now) ? current : null;
    return { version, versioned: isVersioned, expiresAt: now + ttl, previous: live };
  }
}

function toMs(seconds: number): number {
  return Math.max(1, Math.ceil(seconds * 1000));
}
