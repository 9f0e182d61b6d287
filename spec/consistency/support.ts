import type { KeyvCacheBackend } from "../../src/backends/keyv";
import type { CacheEntry } from "../../src/backends/types";

/** A promise with its resolve function. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Watches the stores a backend performs (the http layer stores a miss in the background, after
 * the response went out): `settled()` resolves once every store begun so far has finished.
 * Observes only; the store itself is untouched.
 */
export function watchStores(backend: KeyvCacheBackend): { count(): number; settled(atLeast?: number): Promise<void> } {
  const pending: Array<Promise<void>> = [];
  const set = backend.set.bind(backend);
  backend.set = (entry: CacheEntry) => {
    const p = set(entry);
    pending.push(p.catch(() => undefined));
    return p;
  };
  return {
    count: () => pending.length,
    async settled(atLeast = 1) {
      const until = Date.now() + 5000;
      while (pending.length < atLeast && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      await Promise.all(pending);
    },
  };
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The oracle of the consistency invariant: once `invalidateTag(t)` resolved, no request started
 * afterwards may be served a response tagged `t` whose computation began before the call.
 * Times are ticks of one logical clock shared by the whole test.
 */
export class InvalidationOracle {
  private clock = 0;
  /** tag -> invalidations, in the order they resolved */
  private readonly resolved = new Map<string, Array<{ calledAt: number; resolvedAt: number }>>();
  readonly violations: string[] = [];

  tick(): number {
    return ++this.clock;
  }

  /** Runs an invalidation and records when it was called and when it resolved. */
  async invalidate(tag: string, run: () => Promise<unknown>): Promise<void> {
    const calledAt = this.tick();
    await run();
    const resolvedAt = this.tick();
    let list = this.resolved.get(tag);
    if (!list) this.resolved.set(tag, (list = []));
    list.push({ calledAt, resolvedAt });
  }

  /** Checks a response served to a request that started at `requestStart`, computed from `computedAt`. */
  check(requestStart: number, computedAt: number, tags: readonly string[], what: string): void {
    for (const tag of tags) {
      for (const inv of this.resolved.get(tag) ?? []) {
        if (inv.resolvedAt < requestStart && computedAt < inv.calledAt) {
          this.violations.push(
            `${what}: request started at ${requestStart} got a response computed at ${computedAt}, before invalidateTag("${tag}") called at ${inv.calledAt} resolved at ${inv.resolvedAt}`,
          );
          return;
        }
      }
    }
  }

  /** How many invalidations resolved. */
  get invalidations(): number {
    let n = 0;
    for (const list of this.resolved.values()) n += list.length;
    return n;
  }
}
