import type { Keyv } from "keyv";
import { KeyedMutex } from "../stores/KeyedMutex";
import { tagPart, versionedMarkPart } from "../stores/keyParts";
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

  constructor(readonly driver: StoreDriver) {}

  /** The Keyv namespace holding the versions. */
  get keyv(): Keyv {
    return this.driver.versions;
  }

  /** The part the version of `name` is stored under in the Keyv namespace. */
  keyOf(name: string): string {
    return tagPart(name, this.driver.partBudget);
  }

  /** Current versions of `names`, `undefined` for a name without one, in one round trip. */
  async read(names: readonly string[]): Promise<Record<string, number | undefined>> {
    const sync = this.readSync(names);
    if (sync) return sync;
    const versions: Record<string, number | undefined> = {};
    if (names.length === 0) return versions;
    await this.driver.ready();
    const parts = names.map((name) => this.keyOf(name));
    const values = parts.length === 1 ? [await this.keyv.get(parts[0])] : await this.keyv.getMany(parts);
    names.forEach((name, i) => {
      versions[name] = validVersion(values[i]) ? values[i] : undefined;
    });
    return versions;
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
   * missing ones cost a round trip; with `extend` every key is written (to lengthen its life).
   */
  async ensure(
    requests: readonly VersionRequest[],
    known: Record<string, number | undefined> = {},
    extend = false,
  ): Promise<Record<string, number>> {
    const result: Record<string, number> = {};
    const pending = new Map<string, VersionRequest>();
    for (const r of requests) {
      const v = known[r.name];
      if (validVersion(v) && !extend) {
        result[r.name] = v;
        continue;
      }
      const previous = pending.get(r.name);
      pending.set(r.name, {
        name: r.name,
        ttlSeconds: Math.max(r.ttlSeconds, previous?.ttlSeconds ?? 0),
        versioned: r.versioned === true || previous?.versioned === true,
      });
    }
    if (pending.size === 0) return result;
    const list = [...pending.values()];
    const written = await Promise.all(list.map((r) => this.write(r.name, { mode: "ensure", ttlMs: toMs(r.ttlSeconds), versioned: r.versioned === true })));
    list.forEach((r, i) => (result[r.name] = written[i].version));
    return result;
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

  private async write(name: string, request: VersionWriteRequest): Promise<VersionWrite> {
    await this.driver.ready();
    const part = this.keyOf(name);
    if (this.driver.writeVersion) return this.driver.writeVersion(part, request);
    // Adapters without an atomic update: serialised within this process only.
    return this.mutex.run(part, () => this.writeUnderLock(part, request));
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
    return { version, versioned: isVersioned };
  }
}

function toMs(seconds: number): number {
  return Math.max(1, Math.ceil(seconds * 1000));
}
