import { Keyv, type KeyvStoreAdapter } from "keyv";
import type { StoreNamespace } from "./StoreDriver";

/**
 * The Keyv namespace names of a cache namespace: `<namespace>:entries`, `:index`, `:versions`.
 *
 * @example
 * namespaceNames("ccp").entries; // "ccp:entries"
 */
export function namespaceNames(namespace: string): Record<StoreNamespace, string> {
  if (typeof namespace !== "string" || !/^[A-Za-z0-9_.-]+$/.test(namespace)) {
    throw new TypeError(`namespace "${String(namespace)}" is not valid: use letters, digits, "_", "." and "-" only (e.g. "ccp" or "shop-cache")`);
  }
  return { entries: `${namespace}:entries`, index: `${namespace}:index`, versions: `${namespace}:versions` };
}

/**
 * Plain JSON, and garbage (anything a foreign writer left under our keys) reads as nothing instead
 * of throwing: Keyv's default deserializer throws on it, and turns strings that start with
 * `:base64:` back into Buffers.
 *
 * @example
 * new Keyv({ store: adapter, namespace: "ccp:entries", ...jsonSerialization });
 */
export const jsonSerialization = {
  serialize: (data: unknown) => JSON.stringify(data),
  deserialize: (text: string) => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  },
};

/**
 * The three namespaces on one shared adapter; Keyv prefixes every key with its namespace.
 *
 * @example
 * const { entries, index, versions } = keyvNamespacesOn(adapter, namespaceNames("ccp"));
 */
export function keyvNamespacesOn(adapter: KeyvStoreAdapter, names: Record<StoreNamespace, string>): Record<StoreNamespace, Keyv> {
  const open = (ns: string) => new Keyv({ store: adapter, namespace: ns, throwOnErrors: true, ...jsonSerialization });
  return { entries: open(names.entries), index: open(names.index), versions: open(names.versions) };
}
