import { randomUUID } from "node:crypto";
import { Keyv } from "keyv";
import { nextVersion } from "../versionClock";
import type { NativeTagIndex, PruneStepResult, StoreDriver, StoreNamespace, VersionWrite, VersionWriteRequest } from "../StoreDriver";
import { tagPart } from "../keyParts";
import { KeyMemo } from "../keyMemo";
import { MemoryStore, type MemoryMap } from "./MemoryStore";
import { isMemoryIndexRecord, MemoryTagIndex, trimMemoryRecord } from "./MemoryTagIndex";

interface StoredVersion {
  value: number;
  expires?: number;
  versioned?: boolean;
}

interface Envelope {
  value?: unknown;
  expires?: unknown;
}

function validVersion(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/**
 * The driver of stores in process memory: a {@link MemoryStore} (bounded LRU, the default) or a
 * plain `Map` you pass (kept as is). Everything is synchronous between reading and writing, so
 * versions, the index and locks are atomic for every backend sharing the store, and hits can be
 * answered without an await (`peek`).
 *
 * @example
 * const driver = new MemoryStoreDriver(new MemoryStore(), namespaceNames("ccp"));
 */
export class MemoryStoreDriver implements StoreDriver {
  readonly kind = "memory" as const;
  readonly inMemory = true;
  readonly shared = false;
  readonly partBudget = Infinity;
  readonly bumpTellsPrevious = true;

  /** What the bounded store accounts for (entries, index records and versions share it); 0 for a plain Map. */
  localBytes(): number {
    return this.map instanceof MemoryStore ? this.map.calculatedSize : 0;
  }
  readonly entries: Keyv;
  readonly index: Keyv;
  readonly versions: Keyv;
  /** Present only on a plain Map, which keeps expired values until someone looks. */
  readonly pruneStep?: (batchSize: number) => Promise<PruneStepResult>;
  private walk?: Iterator<string>;
  /** Part → key in the map, per namespace (the Keyv prefix added once per part, not per read). */
  private readonly physicalKeys: Record<StoreNamespace, KeyMemo>;
  private stopListening?: () => void;

  constructor(
    readonly map: MemoryMap,
    names: Record<StoreNamespace, string>,
  ) {
    const open = (ns: string) => new Keyv({ store: map as never, namespace: ns, serialize: undefined, deserialize: undefined });
    this.entries = open(names.entries);
    this.index = open(names.index);
    this.versions = open(names.versions);
    const memo = (keyv: Keyv) => new KeyMemo((part) => keyv._getKeyPrefix(part));
    this.physicalKeys = { entries: memo(this.entries), index: memo(this.index), versions: memo(this.versions) };
    if (map instanceof Map) this.pruneStep = async (batchSize) => this.pruneMap(batchSize);
    if (map instanceof MemoryStore) {
      // An entry the store evicted or expired leaves its tags' records too, so a record holds only
      // live entries (and stays small enough to be kept).
      const entriesPrefix = this.entries._getKeyPrefix("");
      const index = new MemoryTagIndex(
        map,
        (part) => this.physical("index", part),
        (tag) => this.forgetVersion(tag),
      );
      this.stopListening = map.onDrop((key, value) => {
        if (!key.startsWith(entriesPrefix)) return;
        const tags = ((value as Envelope)?.value as { tags?: unknown } | undefined)?.tags;
        if (!tags || typeof tags !== "object") return;
        const member = key.slice(entriesPrefix.length);
        for (const tag of Object.keys(tags)) index.forget(tag, member);
      });
    }
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.stopListening?.();
    return Promise.resolve();
  }

  restartPrune(): void {
    this.walk = undefined;
  }

  private physical(namespace: StoreNamespace, part: string): string {
    return this.physicalKeys[namespace].get(part);
  }

  peek(namespace: StoreNamespace, part: string): unknown {
    const stored = this.map.get(this.physical(namespace, part)) as Envelope | undefined;
    if (!stored || typeof stored !== "object") return undefined;
    if (typeof stored.expires === "number" && stored.expires < Date.now()) return undefined;
    return stored.value;
  }

  peekVersion(part: string): number | undefined {
    const value = this.peek("versions", part);
    return validVersion(value) ? value : undefined;
  }

  async writeVersion(part: string, request: VersionWriteRequest): Promise<VersionWrite> {
    return this.writeVersionSync(part, request);
  }

  /** Synchronous between read and write, so atomic for every backend sharing the store. */
  writeVersionSync(part: string, { mode, ttlMs, versioned }: VersionWriteRequest): VersionWrite {
    const key = this.physical("versions", part);
    const now = Date.now();
    const stored = this.map.get(key) as StoredVersion | undefined;
    const known = stored && typeof stored === "object" && validVersion(stored.value) ? stored : undefined;
    const live = known && !(typeof known.expires === "number" && known.expires < now) ? known : undefined;
    const mark = versioned || live?.versioned === true;
    const expires = Math.max(now + ttlMs, typeof live?.expires === "number" ? live.expires : 0);
    if (mode === "ensure" && live) {
      if (expires !== live.expires || mark !== (live.versioned === true)) this.put(key, { value: live.value, expires, versioned: mark || undefined }, now);
      return { version: live.value, versioned: mark, expiresAt: expires, previous: live.value };
    }
    // An expired value is still the floor: a version never repeats.
    const next = nextVersion(known?.value ?? 0);
    this.put(key, { value: next, expires, versioned: mark || undefined }, now);
    return { version: next, versioned: mark, expiresAt: expires, previous: live?.value ?? null };
  }

  private put(key: string, record: StoredVersion, now: number): void {
    if (record.versioned === undefined) delete record.versioned;
    this.map.set(key, record, Math.max(1, (record.expires ?? now) - now));
  }

  /** Forgets a tag's version (the next request creates a new one, above every earlier one). */
  forgetVersion(tag: string): void {
    this.map.delete(this.physical("versions", tagPart(tag)));
  }

  createTagIndex(batchSize: number): NativeTagIndex {
    return new MemoryTagIndex(
      this.map,
      (part) => this.physical("index", part),
      (tag) => this.forgetVersion(tag),
      batchSize,
    );
  }

  async acquireLock(part: string, ttlMs: number): Promise<string | null> {
    const key = this.physical("versions", part);
    const now = Date.now();
    const held = this.map.get(key) as Envelope | undefined;
    if (held && typeof held.expires === "number" && held.expires >= now) return null;
    const token = randomUUID();
    this.map.set(key, { value: token, expires: now + ttlMs }, ttlMs);
    return token;
  }

  async releaseLock(part: string, token: string): Promise<void> {
    const key = this.physical("versions", part);
    if ((this.map.get(key) as Envelope | undefined)?.value === token) this.map.delete(key);
  }

  async deleteEntries(parts: string[]): Promise<number> {
    let deleted = 0;
    for (const part of parts) {
      const key = this.physical("entries", part);
      const stored = this.map.get(key) as Envelope | undefined;
      const live = stored !== undefined && !(typeof stored?.expires === "number" && stored.expires < Date.now());
      if (this.map.delete(key) && live) deleted += 1;
    }
    return deleted;
  }

  /** Looks at up to `limit` keys of the Map (every namespace at once), from where the last step stopped. */
  private pruneMap(limit: number): PruneStepResult {
    const prefixes = [this.entries, this.index, this.versions].map((k) => k._getKeyPrefix(""));
    const now = Date.now();
    this.walk ??= this.map.keys();
    let deleted = 0;
    for (let looked = 0; looked < limit; looked++) {
      const next = this.walk.next();
      if (next.done) {
        this.walk = undefined;
        return { deleted, passDone: true };
      }
      const key = next.value;
      if (typeof key !== "string" || !prefixes.some((p) => key.startsWith(p))) continue;
      const value = this.map.get(key);
      if (isMemoryIndexRecord(value)) {
        deleted += trimMemoryRecord(value, now, Infinity);
        if (value.value.size === 0) this.map.delete(key);
      } else if (value && typeof value === "object" && typeof (value as Envelope).expires === "number" && ((value as Envelope).expires as number) < now) {
        this.map.delete(key);
        deleted += 1;
      }
    }
    return { deleted, passDone: false };
  }
}
