/**
 * Runs async work one at a time per key, within this process: read-modify-write sequences on one
 * key never interleave. Keys with no work pending take no memory.
 *
 * @example
 * const mutex = new KeyedMutex();
 * await mutex.run("products", async () => readModifyWrite());
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
