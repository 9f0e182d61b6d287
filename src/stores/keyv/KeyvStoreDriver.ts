import type { Keyv, KeyvStoreAdapter } from "keyv";
import type { StoreDriver, StoreNamespace } from "../StoreDriver";
import { keyvNamespacesOn } from "../keyvNamespaces";
import { isStoreHealthFailure } from "../storeHealth";

/**
 * The driver of any other Keyv adapter: the three namespaces and nothing more. The cache core
 * falls back for every capability it lacks: versions and the index under a per-process mutex
 * (safe within one process only), no cross-process lock, key-by-key deletes, no trimming (the
 * adapter's own TTL applies).
 *
 * @example
 * const driver = new KeyvStoreDriver(new KeyvMongo("mongodb://127.0.0.1/cache"), namespaceNames("ccp"));
 */
export class KeyvStoreDriver implements StoreDriver {
  readonly kind = "other" as const;
  readonly inMemory = false;
  /** Unknown: other processes may reach the adapter's data, so treat it as shared. */
  readonly shared = true;
  readonly partBudget = Infinity;
  readonly entries: Keyv;
  readonly index: Keyv;
  readonly versions: Keyv;

  constructor(adapter: KeyvStoreAdapter, names: Record<StoreNamespace, string>) {
    ({ entries: this.entries, index: this.index, versions: this.versions } = keyvNamespacesOn(adapter, names));
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  isHealthFailure(error: unknown): boolean {
    return isStoreHealthFailure(error);
  }
}
