import diagnostics_channel from "node:diagnostics_channel";
import { performance } from "node:perf_hooks";

/**
 * The `node:diagnostics_channel` names the cache publishes on. Subscribe with
 * `diagnostics_channel.subscribe(name, listener)`; with no subscriber nothing is built or sent.
 *
 * @example
 * import diagnostics_channel from "node:diagnostics_channel";
 * import { CACHE_PAGE_CHANNELS, type CachePageRequestEvent } from "custom-cache-page";
 * diagnostics_channel.subscribe(CACHE_PAGE_CHANNELS.request, (message) => {
 *   const e = message as CachePageRequestEvent;
 *   console.log(e.route, e.result, e.durationMs);
 * });
 */
export const CACHE_PAGE_CHANNELS = {
  request: "custom-cache-page:request",
  store: "custom-cache-page:store",
  invalidate: "custom-cache-page:invalidate",
  purge: "custom-cache-page:purge",
  tier: "custom-cache-page:tier",
} as const;

/** What the cache did with one request to a cached action. */
export type CachePageResult = "hit" | "miss" | "stale" | "bypass" | "pass";

/** One message per request to a cached action, on `custom-cache-page:request`. */
export interface CachePageRequestEvent {
  /** The action's method and route template, e.g. `GET /products/:id`: never a key or a query string. */
  route: string;
  method: string;
  result: CachePageResult;
  /** Why it was not stored or not looked up (misses that were stored have none). */
  reason?: string;
  /** For misses: whether the response was stored, decided once it had left. */
  stored?: boolean;
  /** From the cache's middleware to the reply sent (hits) or the response finished (misses), ms. */
  durationMs: number;
  /** Misses: how long the action (and what ran after the cache's middleware) took, ms. */
  actionMs?: number;
  /** Misses: when the action started (ms since the epoch), e.g. for a span. */
  actionStartedAt?: number;
}

/** One message per store call on the request path, on `custom-cache-page:store`. */
export interface CachePageStoreEvent {
  backend: string;
  operation: string;
  durationMs: number;
  error?: unknown;
}

/** One message per invalidation of one backend, on `custom-cache-page:invalidate`. */
export interface CachePageInvalidateEvent {
  backend: string;
  tags: string[];
  mode: "delete" | "stale";
  deleted: number;
  version?: number;
  durationMs: number;
  error?: unknown;
}

/**
 * What happened to a two-tier backend's lease (SPEC §9), on `custom-cache-page:tier`:
 * - `lapsed`: a renewal found this instance's lease gone (expired during a partition, revoked, the
 *   store lost it, or the first one): its local tier was dropped;
 * - `connection-lost`: a connection to the store broke: no local hits until the next renewal;
 * - `revoked`: an invalidation from this process waited longer than the store timeout for other
 *   instances and revoked their leases (`count` of them).
 *
 * @example
 * diagnostics_channel.subscribe(CACHE_PAGE_CHANNELS.tier, (e) => console.warn("tier", (e as CachePageTierEvent).kind));
 */
export interface CachePageTierEvent {
  backend: string;
  kind: "lapsed" | "connection-lost" | "revoked";
  count?: number;
}

/** One message per CDN purge call, on `custom-cache-page:purge`. */
export interface CachePagePurgeEvent {
  backend: string;
  keys: string[];
  attempts: number;
  error?: unknown;
}

export const requestChannel = diagnostics_channel.channel(CACHE_PAGE_CHANNELS.request);
export const storeChannel = diagnostics_channel.channel(CACHE_PAGE_CHANNELS.store);
export const invalidateChannel = diagnostics_channel.channel(CACHE_PAGE_CHANNELS.invalidate);
export const purgeChannel = diagnostics_channel.channel(CACHE_PAGE_CHANNELS.purge);
export const tierChannel = diagnostics_channel.channel(CACHE_PAGE_CHANNELS.tier);

/** Follows one request for its `custom-cache-page:request` message; made only while someone listens. */
export class RequestTrace {
  private readonly started = performance.now();
  private actionStarted?: number;
  private actionStartedAt?: number;
  private actionMs?: number;
  private done = false;

  constructor(
    private readonly route: string,
    private readonly method: string,
  ) {}

  /** The action is about to run. */
  actionStarts(): void {
    if (this.actionStarted !== undefined) return;
    this.actionStarted = performance.now();
    this.actionStartedAt = Date.now();
  }

  /** The action's response reached the cache's layer. */
  actionEnded(): void {
    if (this.actionStarted !== undefined && this.actionMs === undefined) this.actionMs = performance.now() - this.actionStarted;
  }

  /** Publishes the message, once. */
  finish(result: CachePageResult, details: { reason?: string; stored?: boolean } = {}): void {
    if (this.done) return;
    this.done = true;
    const event: CachePageRequestEvent = { route: this.route, method: this.method, result, durationMs: performance.now() - this.started };
    if (details.reason !== undefined) event.reason = details.reason;
    if (details.stored !== undefined) event.stored = details.stored;
    if (this.actionMs !== undefined) {
      event.actionMs = this.actionMs;
      event.actionStartedAt = this.actionStartedAt;
    }
    requestChannel.publish(event);
  }
}

/** A trace when anyone listens on `custom-cache-page:request`, else undefined (no cost). */
export function traceRequest(route: string, method: string): RequestTrace | undefined {
  return requestChannel.hasSubscribers ? new RequestTrace(route, method) : undefined;
}
