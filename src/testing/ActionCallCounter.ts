/**
 * Counts how often actions really ran, to prove a request was answered from the cache (the count
 * did not move) or recomputed (it did). `counter.counts()` is a method decorator: put it directly on
 * the method, below `@CachePage`, so it sees the calls the cache lets through.
 *
 * @example
 * const calls = new ActionCallCounter();
 *
 * @Service()
 * @JsonController("/products")
 * class ProductController {
 *   @Get("/")
 *   @CachePage({ timeout: 60, keyFunc: generateCacheKey })
 *   @calls.counts("list")
 *   list() { return [{ id: 1 }]; }
 * }
 *
 * await request(app).get("/products");
 * await request(app).get("/products");
 * assert.equal(calls.count("list"), 1);
 */
export class ActionCallCounter {
  private readonly recorded = new Map<string, number>();

  /** Records one call under `name`. */
  record(name: string): void {
    this.recorded.set(name, (this.recorded.get(name) ?? 0) + 1);
  }

  /** Calls recorded under `name`, or under every name when it is omitted. */
  count(name?: string): number {
    if (name !== undefined) return this.recorded.get(name) ?? 0;
    let total = 0;
    for (const value of this.recorded.values()) total += value;
    return total;
  }

  /** Forgets every count (e.g. in a `beforeEach`). */
  reset(): void {
    this.recorded.clear();
  }

  /**
   * Wraps a function so each call is recorded under `name`.
   *
   * @example
   * const load = calls.wrap("load", () => db.products());
   */
  wrap<A extends unknown[], R>(name: string, fn: (...args: A) => R): (...args: A) => R {
    const record = (n: string) => this.record(n);
    return function counted(this: unknown, ...args: A): R {
      record(name);
      return fn.apply(this, args);
    };
  }

  /**
   * A method decorator recording each call of the method under `name` (default
   * `ClassName.method`). Keep it closest to the method, below `@CachePage`.
   *
   * @example
   * @calls.counts() // recorded as "ProductController.list"
   */
  counts(name?: string): MethodDecorator {
    return (prototype, propertyKey, descriptor) => {
      const original = descriptor.value;
      if (typeof original !== "function") throw new TypeError(`@counts() goes on a method, not on ${String(propertyKey)}`);
      const label = name ?? `${(prototype as { constructor: { name: string } }).constructor.name}.${String(propertyKey)}`;
      const counted = this.wrap(label, original as (...args: unknown[]) => unknown);
      Object.defineProperty(counted, "name", { value: original.name });
      Object.defineProperty(counted, "length", { value: original.length });
      descriptor.value = counted as typeof original;
      return descriptor;
    };
  }
}
