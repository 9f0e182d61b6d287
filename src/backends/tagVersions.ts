import type { Keyv } from "keyv";
import { KeyedMutex } from "../indexes/KeyedMutex";

/** Default lifetime of a version key: 10 days, as in the Python original. */
export const DEFAULT_VERSION_TIMEOUT = 864000;

const knownVersioned = new Map<string, number>();

/**
 * Remembers that a name is used as a versioned tag in this process, with its version lifetime,
 * so that invalidating it returns the new version and keeps the version key long enough.
 */
export function rememberVersionedTag(name: string, timeout: number): void {
  const previous = knownVersioned.get(name);
  if (previous === undefined || timeout > previous) knownVersioned.set(name, timeout);
}

/** The version lifetime of a name known to be versioned here, else undefined. */
export function versionedTimeoutOf(name: string): number | undefined {
  return knownVersioned.get(name);
}

/**
 * A version that differs from `current` and from every version handed out before, even after the
 * version key expired or was evicted: it is time-based (microseconds) and always above `current`.
 */
export function nextVersion(current: number): number {
  return Math.max(current + 1, Date.now() * 1000 + Math.floor(Math.random() * 1000));
}

/**
 * Tag versions in a Keyv namespace. A missing version reads as 0; an entry records the versions
 * its request saw before the action ran, and is served only while they are still current.
 */
export class TagVersionStore {
  private readonly mutex = new KeyedMutex();

  constructor(readonly keyv: Keyv) {}

  /** Current versions of `names` (0 when a name has none), in one `getMany`. */
  async read(names: readonly string[]): Promise<Record<string, number>> {
    const versions: Record<string, number> = {};
    if (names.length === 0) return versions;
    const values = names.length === 1 ? [await this.keyv.get(names[0])] : await this.keyv.getMany(names as string[]);
    names.forEach((name, i) => {
      const v = values[i];
      versions[name] = typeof v === "number" && Number.isFinite(v) ? v : 0;
    });
    return versions;
  }

  /** Moves `name` to a new version that never repeats; returns it. */
  bump(name: string, ttlSeconds: number): Promise<number> {
    return this.mutex.run(name, async () => {
      const current = (await this.read([name]))[name];
      const next = nextVersion(current);
      await this.keyv.set(name, next, ttlSeconds * 1000);
      return next;
    });
  }
}
