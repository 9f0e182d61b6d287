import { Service } from "typedi";
import { invalidateKey, invalidateTag, invalidateTags, type InvalidateKeyOptions, type InvalidateOptions } from "./invalidate";

/**
 * Invalidation as a typedi service: inject it into controllers and services. Each method is the
 * function of the same name: every backend by default, a `CacheInvalidationError` when a store
 * cannot be reached (within its store timeout plus one second).
 *
 * @example
 * @Service()
 * @JsonController("/products")
 * class ProductController {
 *   constructor(private readonly invalidator: Invalidator) {}
 *   @Put("/:id") async update(@Param("id") id: string, @Body() body: ProductInput) {
 *     await this.products.update(id, body);
 *     await this.invalidator.invalidateTags(["products", surrogateFromModel("Product", id)]);
 *   }
 * }
 */
@Service()
export class Invalidator {
  /** See {@link invalidateTag}. */
  invalidateTag(tag: string, target?: string | InvalidateOptions): Promise<number> {
    return invalidateTag(tag, target);
  }

  /** See {@link invalidateTags}. */
  invalidateTags(tags: string[], target?: string | InvalidateOptions): Promise<number> {
    return invalidateTags(tags, target);
  }

  /** See {@link invalidateKey}: `key` is what `keyFunc` returned, `prefix` the action's prefix if any. */
  invalidateKey(key: string, options?: InvalidateKeyOptions): Promise<boolean> {
    return invalidateKey(key, options);
  }
}
