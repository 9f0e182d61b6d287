/**
 * Records which cache keys carry a plain tag, so that invalidating the tag can delete them.
 *
 * @example
 * class MyIndex extends BaseSurrogateIndex {
 *   async add(tag: string, keys: string[], ttl: number) { ... }
 *   async getKeys(tag: string) { return [...]; }
 *   async remove(tag: string) { ... }
 * }
 */
export abstract class BaseSurrogateIndex {
  /** Records `cacheKeys` under `surrogateKey`; the record lives at least `ttlSeconds` (it may only grow). */
  abstract add(surrogateKey: string, cacheKeys: string[], ttlSeconds: number): Promise<void>;
  /** Every cache key recorded under `surrogateKey`. */
  abstract getKeys(surrogateKey: string): Promise<string[]>;
  /** Forgets `surrogateKey`. */
  abstract remove(surrogateKey: string): Promise<void>;

  /**
   * Takes the recorded keys out of the index and hands them to `consume` in batches; keys added
   * meanwhile are not lost (they stay for the next call). The default reads all, then removes.
   */
  async drain(surrogateKey: string, consume: (keys: string[]) => Promise<void>): Promise<void> {
    const keys = await this.getKeys(surrogateKey);
    await this.remove(surrogateKey);
    if (keys.length > 0) await consume(keys);
  }

  /** Releases connections it opened itself. */
  async close(): Promise<void> {
    return undefined;
  }
}
