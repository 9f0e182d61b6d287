import { Service } from "typedi";
import { invalidateKey, invalidateTag, invalidateTags } from "./invalidate";

/**
 * Invalidation as a typedi service: inject it into controllers and services.
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
  invalidateTag(tag: string, backend?: string): Promise<number> {
    return invalidateTag(tag, backend);
  }

  /** See {@link invalidateTags}. */
  invalidateTags(tags: string[], backend?: string): Promise<number> {
    return invalidateTags(tags, backend);
  }

  /** Deletes one entry; `key` is what `keyFunc` returned, `prefix` the action's prefix if any. */
  invalidateKey(key: string, options?: { backend?: string; prefix?: string }): Promise<boolean> {
    return invalidateKey(key, options);
  }
}
