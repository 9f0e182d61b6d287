/** How many variants (`Vary`) one key keeps at most in a store; more share slots and replace each other. */
export const MAX_VARIANTS_PER_KEY = 32;

/**
 * The key an entry is stored under: `<prefix>:<key>`, or `<prefix>|v<slot>:<key>` for one variant
 * of a response with `Vary`. The prefix is percent-encoded, so it never holds `:` or `|`, which
 * makes the first of them an unambiguous boundary: no `keyFunc` result can reach into another
 * prefix's entries or another variant's, whatever characters it holds.
 */
export function buildStorageKey(prefix: string | undefined, key: string, variantSlot?: number): string {
  const encoded = prefix === undefined || prefix === "" ? "" : encodeURIComponent(prefix);
  return variantSlot === undefined ? `${encoded}:${key}` : `${encoded}|v${variantSlot}:${key}`;
}

/** Every key the entries of one `keyFunc` result can be stored under: the plain one and each variant slot. */
export function storageKeysOf(prefix: string | undefined, key: string): string[] {
  const keys = [buildStorageKey(prefix, key)];
  for (let slot = 0; slot < MAX_VARIANTS_PER_KEY; slot += 1) keys.push(buildStorageKey(prefix, key, slot));
  return keys;
}
