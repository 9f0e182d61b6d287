import type { Keyv } from "keyv";
import { KeyedMutex } from "../indexes/KeyedMutex";
import { tagPart } from "../indexes/keyParts";
import { accessKeyvStore, storeReady, type KeyvStoreAccess } from "../indexes/keyvStoreAccess";
import { VERSION_SCRIPT } from "../indexes/redisScripts";

/**
 * Default lifetime of a version key: 10 days, as in the Python original.
 *
 * @example
 * versioned("catalog", DEFAULT_VERSION_TIMEOUT); // the same as versioned("catalog")
 */
export const DEFAULT_VERSION_TIMEOUT = 864000;

const knownVersioned = new Map<string, number>();

/**
 * Remembers that a name is used as a versioned tag in this process, with its version lifetime,
 * so that invalidating it returns the new version and keeps the version key long enough.
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

let lastFloor = 0;

/**
 * The clock in microseconds, strictly increasing within this process: the floor of every new
 * version, so a version created after its key expired or was evicted starts above any version
 * handed out before it.
 *
 * @example
 * const floor = versionFloor(); // e.g. 1764115200000000, then 1764115200000001 within the same ms
 */
export function versionFloor(): number {
  lastFloor = Math.max(Date.now() * 1000, lastFloor + 1);
  return lastFloor;
}

/**
 * A version that differs from `current` and from every version handed out before: time-based
 * (microseconds) and always above `current`.
 *
 * @example
 * nextVersion(0); // the clock in µs
 * nextVersion(Number.MAX_SAFE_INTEGER - 10); // current + 1
 */
export function nextVersion(current: number): number {
  return Math.max(current + 1, versionFloor());
}

/**
 * A tag and the lifetime its version key should get if it has to be created.
 *
 * @example
 * await versions.ensure([{ name: "products", ttlSeconds: 864000 }]);
 */
export interface VersionRequest {
  name: string;
  ttlSeconds: number;
}

interface StoredVersion {
  value: number;
  expires?: number;
}

function validVersion(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/**
 * Tag versions in a Keyv namespace. A version key missing (never created, expired, evicted,
 * unreadable) reads as `undefined`, which no stored entry can match: every entry records real
 * versions, created when its request looked them up. New versions are time-based and bumps are
 * atomic where the store allows (a Lua script on Redis and Redis Cluster, one SQL statement on
 * SQLite / PostgreSQL, a synchronous Map update in memory), so two processes bumping at once never
 * get the same version and a version never repeats.
 *
 * @example
 * const versions = new TagVersionStore(new Keyv({ store: new KeyvRedis("redis://127.0.0.1:6379"), namespace: "ccp:versions" }));
 * const seen = await versions.ensure([{ name: "products", ttlSeconds: 864000 }]);
 * await versions.bump("products", 864000); // an entry stored with `seen` is now stale
 */
export class TagVersionStore {
  private readonly mutex = new KeyedMutex();
  private readonly access: KeyvStoreAccess;

  constructor(readonly keyv: Keyv) {
    this.access = accessKeyvStore(keyv);
  }

  /** The part the version of `name` is stored under in the Keyv namespace. */
  keyOf(name: string): string {
    return tagPart(name, this.access.partBudget);
  }

  /** Current versions of `names`, `undefined` for a name without one, in one round trip. */
  async read(names: readonly string[]): Promise<Record<string, number | undefined>> {
    const versions: Record<string, number | undefined> = {};
    if (names.length === 0) return versions;
    if (this.access.kind === "memory") {
      const now = Date.now();
      for (const name of names) versions[name] = this.readMemory(name, now, false);
      return versions;
    }
    await storeReady(this.access);
    const parts = names.map((name) => this.keyOf(name));
    const values = parts.length === 1 ? [await this.keyv.get(parts[0])] : await this.keyv.getMany(parts);
    names.forEach((name, i) => {
      versions[name] = validVersion(values[i]) ? values[i] : undefined;
    });
    return versions;
  }

  /**
   * The current version of each tag, creating the missing ones. Concurrent callers (in any
   * process) get the same version for a tag. `known` holds versions already read; only the
   * missing ones cost a round trip.
   */
  async ensure(requests: readonly VersionRequest[], known: Record<string, number | undefined> = {}): Promise<Record<string, number>> {
    const result: Record<string, number> = {};
    const missing: VersionRequest[] = [];
    for (const r of requests) {
      const v = known[r.name];
      if (validVersion(v)) result[r.name] = v;
      else if (!missing.some((m) => m.name === r.name)) missing.push(r);
    }
    if (missing.length === 0) return result;
    const created = await Promise.all(missing.map((r) => this.write(r.name, r.ttlSeconds, "ensure")));
    missing.forEach((r, i) => (result[r.name] = created[i]));
    return result;
  }

  /** Moves `name` to a new version that never repeats; returns it. */
  bump(name: string, ttlSeconds: number): Promise<number> {
    return this.write(name, ttlSeconds, "bump");
  }

  private async write(name: string, ttlSeconds: number, mode: "bump" | "ensure"): Promise<number> {
    const ttlMs = Math.max(1, Math.ceil(ttlSeconds * 1000));
    const access = this.access;
    switch (access.kind) {
      case "memory":
        return this.writeMemory(name, ttlMs, mode);
      case "redis": {
        await storeReady(access);
        const now = Date.now();
        const reply = await VERSION_SCRIPT.run(access.client, [access.physicalKey(this.keyOf(name))], [String(ttlMs), String(now + ttlMs), mode, String(now)]);
        const version = Number(reply);
        if (!validVersion(version)) throw new Error(`Redis returned no version for tag "${name}" (got ${String(reply)})`);
        return version;
      }
      case "sql": {
        const now = Date.now();
        const key = access.physicalKey(this.keyOf(name));
        return mode === "bump"
          ? access.table.bumpVersion(key, now + ttlMs, versionFloor())
          : access.table.ensureVersion(key, now + ttlMs, versionFloor(), now);
      }
      default:
        // Unknown adapters have no atomic update: serialise within this process only.
        return this.mutex.run(name, async () => {
          const current = (await this.read([name]))[name];
          if (mode === "ensure" && current !== undefined) return current;
          const next = nextVersion(current ?? 0);
          await this.keyv.set(this.keyOf(name), next, ttlMs);
          return next;
        });
    }
  }

  /** The current versions, read synchronously from a memory store; undefined for other stores. */
  readSync(names: readonly string[]): Record<string, number | undefined> | undefined {
    if (this.access.kind !== "memory") return undefined;
    const now = Date.now();
    const versions: Record<string, number | undefined> = {};
    for (const name of names) versions[name] = this.readMemory(name, now, false);
    return versions;
  }

  /** Reads a version from the Map; `keepExpired` returns an expired one too (to stay above it). */
  private readMemory(name: string, now: number, keepExpired: boolean): number | undefined {
    if (this.access.kind !== "memory") return undefined;
    const stored = this.access.map.get(this.access.physicalKey(this.keyOf(name))) as StoredVersion | undefined;
    if (!stored || typeof stored !== "object" || !validVersion(stored.value)) return undefined;
    if (!keepExpired && typeof stored.expires === "number" && stored.expires < now) return undefined;
    return stored.value;
  }

  /** Synchronous between read and write, so atomic for every backend sharing the Map. */
  private writeMemory(name: string, ttlMs: number, mode: "bump" | "ensure"): number {
    if (this.access.kind !== "memory") throw new Error("internal: not a memory store");
    const now = Date.now();
    if (mode === "ensure") {
      const live = this.readMemory(name, now, false);
      if (live !== undefined) return live;
    }
    const next = nextVersion(this.readMemory(name, now, true) ?? 0);
    this.access.map.set(this.access.physicalKey(this.keyOf(name)), { value: next, expires: now + ttlMs } satisfies StoredVersion);
    return next;
  }
}
