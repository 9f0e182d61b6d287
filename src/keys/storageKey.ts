/**
 * The key an entry is stored under. The prefix is percent-encoded so it never contains `:`,
 * which makes the first `:` an unambiguous boundary: no `keyFunc` result can reach into
 * another prefix's entries, whatever characters it holds.
 */
export function buildStorageKey(prefix: string | undefined, key: string): string {
  return `${encodeURIComponent(prefix ?? "")}:${key}`;
}
