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
  /** Records `cacheKeys` under `surrogateKey`; each is remembered at least `ttlSeconds` (a lifetime only grows). */
  abstract add(surrogateKey: string, cacheKeys: string[], ttlSeconds: number): Promise<void>;
  /** Every cache key recorded under `surrogateKey`. */
  abstract getKeys(surrogateKey: string): Promise<string[]>;
  /** Forgets `surrogateKey`. */
  abstract remove(surrogateKey: string): Promise<void>;

  /**
   * Takes the recorded keys out of the index and hands them to `consume` in batches. Keys added
   * meanwhile are never lost: each either stays recorded or is handed to `consume`. The default
   * reads all, removes the tag, then hands them out 500 at a time; the built-in indexes override it
   * to take bounded batches atomically.
   */
  async drain(surrogateKey: string, consume: (keys: string[]) => Promise<void>): Promise<void> {
    const keys = await this.getKeys(surrogateKey);
    await this.remove(surrogateKey);
    for (let i = 0; i < keys.length; i += 500) await consume(keys.slice(i, i + 500));
  }

  /** Releases connections it opened itself. */
  async close(): Promise<void> {
    return undefined;
  }
}
