import { getCacheBackend } from "../config/configure";
import { buildStorageKey } from "../keys/storageKey";
import { normalizeTagName } from "../tags/versioned";

function normalized(tag: string): string {
  if (typeof tag !== "string") throw new TypeError(`invalidateTag: the tag must be a string (got ${typeof tag})`);
  const name = normalizeTagName(tag);
  if (name === "") throw new TypeError("invalidateTag: the tag is empty");
  return name;
}

/**
 * Invalidates every entry tagged `tag` on the default backend (or the one named). A plain tag's
 * entries are deleted and their count returned; a versioned tag's version is bumped (O(1)) and the
 * new version returned; a name used both ways gets both. Once the promise resolves, no request is
 * served a response tagged `tag` whose computation began before the call.
 *
 * @example
 * await productRepository.save(product);
 * await invalidateTag("products");
 */
export async function invalidateTag(tag: string, backend?: string): Promise<number> {
  return getCacheBackend(backend).invalidateBySurrogate(normalized(tag));
}

/**
 * Invalidates several tags; returns the sum of what {@link invalidateTag} returns for each.
 *
 * @example
 * await invalidateTags(["products", `model-product-${id}`]);
 */
export async function invalidateTags(tags: string[], backend?: string): Promise<number> {
  if (!Array.isArray(tags)) throw new TypeError("invalidateTags: expects an array of tag names");
  const names = [...new Set(tags.map(normalized))];
  return getCacheBackend(backend).invalidateBySurrogates(names);
}

/**
 * Deletes one entry: `key` is what `keyFunc` returned; give `prefix` when the action used one.
 *
 * @example
 * await invalidateKey("/products?page=1");
 */
export async function invalidateKey(key: string, options: { backend?: string; prefix?: string } = {}): Promise<boolean> {
  if (typeof key !== "string") throw new TypeError(`invalidateKey: the key must be a string (got ${typeof key})`);
  return getCacheBackend(options.backend).delete(buildStorageKey(options.prefix, key));
}
