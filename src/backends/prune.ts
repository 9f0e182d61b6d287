import type { Keyv } from "keyv";
import { accessKeyvStore, type KeyvStoreAccess } from "../indexes/keyvStoreAccess";
import { isMemoryIndexRecord, trimMemoryRecord } from "../indexes/memory";

/**
 * Options of {@link KeyvCacheBackend.prune}.
 *
 * @example
 * await backend.prune({ batchSize: 1000, maxBatches: 50 });
 */
export interface PruneOptions {
  /** Rows (or Map keys) looked at per step, default 500. Each step is one bounded statement. */
  batchSize?: number;
  /** Stop after this many steps even if the pass is not complete (default: no limit). */
  maxBatches?: number;
}

/**
 * What {@link KeyvCacheBackend.prune} did.
 *
 * @example
 * const { deleted, complete } = await backend.prune();
 */
export interface PruneResult {
  /** Expired rows deleted (entries, index memberships, versions), plus expired index members trimmed in memory. */
  deleted: number;
  /** True when a whole pass over the namespaces finished. */
  complete: boolean;
}

/**
 * Sampled pruning of {@link KeyvCacheBackendOptions.prune}.
 *
 * @example
 * new KeyvCacheBackend({ store: "postgres://127.0.0.1/app", prune: { every: 200, batchSize: 1000 } });
 */
export interface SampledPruneOptions {
  /** One bounded prune step after every `every`-th store (default 1000); 0 turns sampling off. */
  every?: number;
  /** Rows looked at per sampled step (default 500). */
  batchSize?: number;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Deletes what has expired but is still stored. Redis expires keys itself (and the Redis index
 * trims its sets on each add), so there is nothing to do there. SQLite and PostgreSQL keep
 * expired Keyv rows until someone reads them, and the in-memory Map keeps expired values the same
 * way: this walks them in bounded steps, remembering where it stopped.
 *
 * @example
 * const pruner = new StorePruner([stores.entries, stores.index, stores.versions]);
 * await pruner.run({ batchSize: 500 });
 */
export class StorePruner {
  private readonly targets: Array<{ access: KeyvStoreAccess; prefix: string }>;
  private position = 0;
  private cursor: string | undefined;
  private memoryWalk?: Iterator<[unknown, unknown]>;

  constructor(namespaces: readonly Keyv[]) {
    this.targets = namespaces
      .map((keyv) => ({ access: accessKeyvStore(keyv), prefix: keyv._getKeyPrefix("") }))
      // Without a namespace prefix a prune would reach rows that are not ours.
      .filter((t) => t.prefix.length > 0 && (t.access.kind === "sql" || t.access.kind === "memory"));
  }

  /** False on stores where pruning has nothing to do (Redis) or cannot be done (unknown adapters). */
  get supported(): boolean {
    return this.targets.length > 0;
  }

  /** One bounded step; `passDone` says a whole pass ended with it. */
  async step(batchSize = 500): Promise<{ deleted: number; passDone: boolean }> {
    if (this.targets.length === 0) return { deleted: 0, passDone: true };
    const target = this.targets[this.position];
    const now = Date.now();
    let deleted: number;
    let targetDone: boolean;
    if (target.access.kind === "sql") {
      const step = await target.access.table.pruneStep(target.prefix, now, batchSize, this.cursor);
      deleted = step.deleted;
      targetDone = step.done;
      this.cursor = step.cursor;
    } else if (target.access.kind === "memory") {
      ({ deleted, done: targetDone } = this.memoryStep(target.access.map, now, batchSize));
    } else {
      deleted = 0;
      targetDone = true;
    }
    if (!targetDone) return { deleted, passDone: false };
    this.cursor = undefined;
    this.position = (this.position + 1) % this.targets.length;
    return { deleted, passDone: this.position === 0 };
  }

  /** Steps until a pass completes (or `maxBatches` steps ran). */
  async run(options: PruneOptions = {}): Promise<PruneResult> {
    const batchSize = options.batchSize ?? 500;
    const maxBatches = options.maxBatches ?? Infinity;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new TypeError(`prune: batchSize must be a whole number >= 1 (got ${String(options.batchSize)})`);
    if (!(maxBatches >= 1)) throw new TypeError(`prune: maxBatches must be >= 1 (got ${String(options.maxBatches)})`);
    // A full run starts a fresh pass, wherever sampled steps had got to.
    this.position = 0;
    this.cursor = undefined;
    this.memoryWalk = undefined;
    let deleted = 0;
    for (let batches = 0; batches < maxBatches; batches++) {
      const step = await this.step(batchSize);
      deleted += step.deleted;
      if (step.passDone) return { deleted, complete: true };
      await yieldToEventLoop();
    }
    return { deleted, complete: false };
  }

  /** Looks at up to `limit` keys of the Map (all namespaces of the Map at once), from where the last step stopped. */
  private memoryStep(map: Map<string, unknown>, now: number, limit: number): { deleted: number; done: boolean } {
    const prefixes = this.targets.filter((t) => t.access.kind === "memory" && t.access.map === map).map((t) => t.prefix);
    this.memoryWalk ??= map.entries();
    let deleted = 0;
    for (let looked = 0; looked < limit; looked++) {
      const next = this.memoryWalk.next();
      if (next.done) {
        this.memoryWalk = undefined;
        // The walk covered every namespace on this Map: skip the other targets on it.
        while (this.position + 1 < this.targets.length && this.targets[this.position + 1].access.kind === "memory") this.position += 1;
        return { deleted, done: true };
      }
      const [key, value] = next.value as [unknown, unknown];
      if (typeof key !== "string" || !prefixes.some((p) => key.startsWith(p))) continue;
      if (isMemoryIndexRecord(value)) {
        deleted += trimMemoryRecord(value, now, Infinity);
        if (value.value.size === 0) map.delete(key);
      } else if (value && typeof value === "object" && typeof (value as { expires?: unknown }).expires === "number" && (value as { expires: number }).expires < now) {
        map.delete(key);
        deleted += 1;
      }
    }
    return { deleted, done: false };
  }
}
