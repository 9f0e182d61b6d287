import type { StoreDriver } from "../stores/StoreDriver";

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
 * Trimming on writes, {@link KeyvCacheBackendOptions.prune}.
 *
 * @example
 * new KeyvCacheBackend({ store: "postgres://127.0.0.1/app", prune: { every: 32, batchSize: 500 } });
 */
export interface SampledPruneOptions {
  /** One bounded trimming step after every `every`-th store (default 16); 0 turns it off. */
  every?: number;
  /** Rows looked at per step at least (default 100); a step looks at twice the rows written since the last one if that is more. */
  batchSize?: number;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Deletes what has expired but is still stored, through the driver's `pruneStep` (SQL tables and a
 * plain Map keep expired values until someone reads them). Drivers without it (Redis, which
 * expires keys itself; the bounded memory store, which drops expired values by timer; other
 * adapters) have nothing to prune and a run returns at once.
 *
 * @example
 * const pruner = new StorePruner(driver);
 * await pruner.run({ batchSize: 500 });
 */
export class StorePruner {
  constructor(private readonly driver: StoreDriver) {}

  /** False on stores where pruning has nothing to do or cannot be done. */
  get supported(): boolean {
    return typeof this.driver.pruneStep === "function";
  }

  /** One bounded step; `passDone` says a whole pass ended with it. */
  async step(batchSize = 500): Promise<{ deleted: number; passDone: boolean }> {
    if (!this.driver.pruneStep) return { deleted: 0, passDone: true };
    return this.driver.pruneStep(batchSize);
  }

  /** Steps until a pass completes (or `maxBatches` steps ran). */
  async run(options: PruneOptions = {}): Promise<PruneResult> {
    const batchSize = options.batchSize ?? 500;
    const maxBatches = options.maxBatches ?? Infinity;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new TypeError(`prune: batchSize must be a whole number >= 1 (got ${String(options.batchSize)})`);
    if (!(maxBatches >= 1)) throw new TypeError(`prune: maxBatches must be >= 1 (got ${String(options.maxBatches)})`);
    if (!this.supported) return { deleted: 0, complete: true };
    // A full run starts a fresh pass, wherever sampled steps had got to.
    (this.driver as { restartPrune?(): void }).restartPrune?.();
    let deleted = 0;
    for (let batches = 0; batches < maxBatches; batches++) {
      const step = await this.step(batchSize);
      deleted += step.deleted;
      if (step.passDone) return { deleted, complete: true };
      await yieldToEventLoop();
    }
    return { deleted, complete: false };
  }
}
