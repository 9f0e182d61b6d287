import type { CacheRequest } from "../model";

/**
 * A tag from the request path: `/api/products/` gives `path-api-products`, `/` gives `path-root`.
 *
 * @example
 * @CachePage({ timeout: 60, keyFunc: generateCacheKey, tags: [surrogateFromPath] })
 */
export function surrogateFromPath(req: CacheRequest): string {
  const segments = req.path.split("/").filter((s) => s.length > 0);
  return segments.length === 0 ? "path-root" : `path-${segments.join("-")}`;
}

/**
 * A tag for a model, or for one instance of it: `model-product`, `model-product-123`.
 *
 * @example
 * tags: [(req) => surrogateFromModel("Product", req.params.id)]
 * await invalidateTag(surrogateFromModel("Product", 123));
 */
export function surrogateFromModel(name: string, pk?: string | number | null): string {
  const base = `model-${name.toLowerCase()}`;
  return pk === undefined || pk === null || pk === "" ? base : `${base}-${pk}`;
}

/**
 * `user-<id>` when the request has a user with an `id` (or `pk`), else `null` (no tag).
 *
 * @example
 * tags: [surrogateFromUser] // "user-42" for req.user = { id: 42 }
 */
export function surrogateFromUser(req: CacheRequest): string | null {
  const user = req.user as { id?: unknown; pk?: unknown } | null | undefined;
  if (!user || typeof user !== "object") return null;
  const id = user.id ?? user.pk;
  if (id === undefined || id === null || id === "") return null;
  return `user-${String(id)}`;
}

/**
 * One tag per query parameter value: `?cat=shoes&cat=hats` gives `["param-cat-shoes", "param-cat-hats"]`.
 * Pass `params` to restrict to some names; empty values are skipped.
 *
 * @example
 * tags: [(req) => surrogateFromQueryParams(req, ["cat"])]
 */
export function surrogateFromQueryParams(req: CacheRequest, params?: string[]): string[] {
  const names = params ?? Object.keys(req.query).sort();
  const tags: string[] = [];
  for (const name of names) {
    const raw = req.query[name];
    if (raw === undefined) continue;
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      if (value !== "") tags.push(`param-${name}-${value}`);
    }
  }
  return tags;
}
