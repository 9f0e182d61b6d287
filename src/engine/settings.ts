import type { BaseCacheBackend } from "../backends/base";
import type { CachedResponse, CacheRequest } from "../model";
import type { TagSpec } from "../tags/resolveTags";

/** What the engine learns about an action while it serves it (kept with the action, in process). */
export interface ActionMemory {
  /**
   * Per key (prefix and `keyFunc` result), the request header names its response was seen to vary
   * on: the entry key of a request holds their values, so a hit needs no extra round trip to learn
   * them. Bounded; a key it forgot is looked up without variant and learnt again on its miss.
   */
  varyByKey: Map<string, readonly string[]>;
  /** A callback read `CacheRequest.user`: resolve the user before running them. */
  readsUser: boolean;
}

/** The cache settings of one action, as the decorators resolved them. */
export interface ActionCacheSettings {
  /** `Controller.method`, for messages. */
  where: string;
  /**
   * What names the action in every entry it stores (its method and route, e.g. `GET /products/:id`):
   * the same in every process running the app, different for every action of one app. An entry is
   * served only through the action that stored it.
   */
  identity: string;
  timeout: number | ((response: CachedResponse) => number);
  keyFunc: (req: CacheRequest) => string;
  /** `options.tags` and `@Tags(...)`, merged. */
  tags: readonly TagSpec[];
  prefix?: string | ((req: CacheRequest) => string);
  backend?: string | BaseCacheBackend;
  onlyIf?: (req: CacheRequest) => boolean;
  statuses: ReadonlySet<number>;
  cacheAuthorized: boolean;
  /** Seconds after freshness ends during which a stale entry is served while one background refresh runs. */
  staleWhileRevalidate: number;
  /** Seconds after freshness ends during which a stale entry replaces an error (thrown, 500, 502, 503, 504). */
  staleIfError: number;
  /** How long a request waits for another one computing the same key (ms). */
  flightWaitMs: number;
  /** Cross-process stampede lock: `ttl` ms it lives at most, `wait` ms others wait for it. */
  lock?: { ttl: number; wait: number };
  memory: ActionMemory;
}

/** Statuses that count as an error for `staleIfError`. */
export const ERROR_STATUSES = new Set([500, 502, 503, 504]);

/** The longest `timeout` there is: one year of seconds. */
export const MAX_TIMEOUT_SECONDS = 31_536_000;
