import { CachePageOptionsError } from "../config/errors";
import { hookAction } from "./actionHook";
import { scheduleStartupCheck } from "./actionGuards";
import { recordFor } from "./actionRegistry";
import { validateCachePageOptions, type CachePageOptions } from "./validateOptions";

/**
 * Caches the whole response of a routing-controllers GET action (status, headers, body bytes) and
 * answers later requests with the same key from the cache, on Express and Koa.
 *
 * @example
 * @JsonController("/products")
 * class ProductController {
 *   @Get("/")
 *   @CachePage({ timeout: 3600, keyFunc: generateCacheKey, tags: ["products", versioned("catalog")] })
 *   list() { return this.products.all(); }
 * }
 * // when products change:
 * await invalidateTag("products");
 */
export function CachePage(options: CachePageOptions): MethodDecorator {
  return (prototype, propertyKey, descriptor) => {
    const method = String(propertyKey);
    const where = `${(prototype as { constructor: Function }).constructor.name}.${method}`;
    if (!descriptor || typeof descriptor.value !== "function") {
      throw new CachePageOptionsError(`@CachePage on ${where}: it goes on a method (an action), not on a property or accessor`);
    }
    const record = recordFor((prototype as { constructor: Function }).constructor, method);
    if (record.options) throw new CachePageOptionsError(`@CachePage on ${where}: applied twice; keep one`);
    record.options = validateCachePageOptions(options, where);
    hookAction(prototype, method, descriptor as PropertyDescriptor, record);
    scheduleStartupCheck((prototype as { constructor: Function }).constructor);
    return descriptor;
  };
}
