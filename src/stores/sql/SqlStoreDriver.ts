import { randomUUID } from "node:crypto";
import type { Keyv, KeyvStoreAdapter } from "keyv";
import type { NativeTagIndex, PruneStepResult, StoreDriver, StoreNamespace, VersionWrite, VersionWriteRequest } from "../StoreDriver";
import { keyvNamespacesOn } from "../keyvNamespaces";
import { isStoreHealthFailure } from "../storeHealth";
import { versionFloor } from "../versionClock";
import { SqlKeyvTable } from "./SqlKeyvTable";
import { SqlTagIndex } from "./SqlTagIndex";

const NAMESPACES: StoreNamespace[] = ["entries", "index", "versions"];

/**
 * The driver of @keyv/sqlite and @keyv/postgres tables: entries through Keyv, versions and locks
 * by single statements, the index as one row per membership, bulk deletes in one statement, and
 * trimming of expired rows (entries, memberships, versions) in bounded steps that walk the key
 * order, because Keyv deletes an expired row only when someone reads it.
 *
 * @example
 * const driver = SqlStoreDriver.on(openSqliteAdapter("sqlite:///tmp/c.db"), namespaceNames("ccp"), close);
 */
export class SqlStoreDriver implements StoreDriver {
  readonly kind: "sqlite" | "postgres";
  readonly inMemory = false;
  readonly shared = true;
  readonly partBudget: number;
  readonly entries: Keyv;
  readonly index: Keyv;
  readonly versions: Keyv;
  private position = 0;
  private cursor: string | undefined;
  private closed?: Promise<void>;

  private constructor(
    readonly table: SqlKeyvTable,
    adapter: KeyvStoreAdapter,
    names: Record<StoreNamespace, string>,
    private readonly owned: (() => Promise<void>) | undefined,
  ) {
    ({ entries: this.entries, index: this.index, versions: this.versions } = keyvNamespacesOn(adapter, names));
    this.kind = table.dialect;
    const longestPrefix = Math.max(...NAMESPACES.map((ns) => this[ns]._getKeyPrefix("").length));
    this.partBudget = table.keySize - longestPrefix;
  }

  /** A driver on `adapter` when it is a SQL Keyv adapter, else undefined. */
  static on(adapter: KeyvStoreAdapter, names: Record<StoreNamespace, string>, owned?: () => Promise<void>): SqlStoreDriver | undefined {
    const table = SqlKeyvTable.of(adapter);
    return table ? new SqlStoreDriver(table, adapter, names, owned) : undefined;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return (this.closed ??= this.owned ? this.owned() : Promise.resolve());
  }

  private physical(namespace: StoreNamespace, part: string): string {
    return this[namespace]._getKeyPrefix(part);
  }

  writeVersion(part: string, { mode, ttlMs, versioned }: VersionWriteRequest): Promise<VersionWrite> {
    const now = Date.now();
    return this.table.writeVersion(this.physical("versions", part), mode, now + ttlMs, now, versionFloor(), versioned);
  }

  /** Several `ensure` writes in one statement (the versions of one entry's tags). */
  ensureVersions(writes: ReadonlyArray<{ part: string; ttlMs: number; versioned: boolean }>): Promise<VersionWrite[]> {
    const now = Date.now();
    return this.table.ensureVersions(
      writes.map((w) => ({ key: this.physical("versions", w.part), expiresAtMs: now + w.ttlMs, versioned: w.versioned })),
      now,
      versionFloor(),
    );
  }

  createTagIndex(batchSize: number): NativeTagIndex {
    return new SqlTagIndex(this.table, (part) => this.physical("index", part), this.table.keySize - this.index._getKeyPrefix("").length, batchSize);
  }

  async acquireLock(part: string, ttlMs: number): Promise<string | null> {
    const token = randomUUID();
    const now = Date.now();
    const taken = await this.table.takeLock(this.physical("versions", part), JSON.stringify({ value: token, expires: now + ttlMs }), now);
    return taken ? token : null;
  }

  releaseLock(part: string, token: string): Promise<void> {
    return this.table.releaseLock(this.physical("versions", part), token);
  }

  deleteEntries(parts: string[]): Promise<number> {
    return this.table.deleteKeys(parts.map((part) => this.physical("entries", part)));
  }

  /** One bounded step over entries, index and versions in turn, resuming where the last one stopped. */
  async pruneStep(batchSize: number): Promise<PruneStepResult> {
    const namespace = NAMESPACES[this.position];
    const step = await this.table.pruneStep(this.physical(namespace, ""), Date.now(), batchSize, this.cursor);
    this.cursor = step.cursor;
    if (!step.done) return { deleted: step.deleted, passDone: false };
    this.position = (this.position + 1) % NAMESPACES.length;
    return { deleted: step.deleted, passDone: this.position === 0 };
  }

  /** Restarts the walk from the first namespace (a full prune starts a fresh pass). */
  restartPrune(): void {
    this.position = 0;
    this.cursor = undefined;
  }

  isHealthFailure(error: unknown): boolean {
    return isStoreHealthFailure(error);
  }
}
