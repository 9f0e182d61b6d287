import type { TagSpec } from "../tags/resolveTags";
import { scheduleStartupCheck } from "./actionGuards";
import { recordFor } from "./actionRegistry";
import { validateTagSpecs } from "./validateOptions";

/**
 * Adds tags to a cached action; they merge with `@CachePage({ tags })`. Strings, `versioned(...)`
 * and functions of the request (returning a string, an array, or null/undefined for none).
 *
 * @example
 * @Get("/:id")
 * @CachePage({ timeout: 600, keyFunc: (r) => r.path })
 * @Tags("products", (req) => surrogateFromModel("Product", req.params.id))
 * one(@Param("id") id: string) { ... }
 */
export function Tags(...tags: TagSpec[]): MethodDecorator {
  return (prototype, propertyKey) => {
    const method = String(propertyKey);
    const record = recordFor((prototype as { constructor: Function }).constructor, method);
    record.extraTags.push(...validateTagSpecs(tags, `@Tags on ${record.where}`));
    record.settings = undefined;
    scheduleStartupCheck((prototype as { constructor: Function }).constructor);
  };
}
