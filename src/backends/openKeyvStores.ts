// The store drivers live in src/stores/; these names stay importable from here.
import type { StoreDriver, StoreKind } from "../stores/StoreDriver";

export { openStoreDriver as openKeyvStores, storeKindOfUrl, type KeyvStoreSpec } from "../stores/openStoreDriver";
export { redactUrl } from "../stores/redactUrl";

/**
 * The three Keyv namespaces a {@link KeyvCacheBackend} works with: its store driver.
 *
 * @example
 * const stores: KeyvStores = backend.stores;
 * await stores.ready();
 */
export type KeyvStores = StoreDriver;

/**
 * What the three namespaces sit on.
 *
 * @example
 * if (backend.stores.kind === "redis-cluster") console.log("on a cluster");
 */
export type KeyvStoreKind = StoreKind;
