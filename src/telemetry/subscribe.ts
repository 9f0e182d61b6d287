import diagnostics_channel from "node:diagnostics_channel";
import {
  CACHE_PAGE_CHANNELS,
  type CachePageInvalidateEvent,
  type CachePagePurgeEvent,
  type CachePageRequestEvent,
  type CachePageStoreEvent,
  type CachePageTierEvent,
} from "./events";

/** Listeners for the cache's channels; any may be left out. */
export interface CachePageListeners {
  request?(event: CachePageRequestEvent): void;
  store?(event: CachePageStoreEvent): void;
  invalidate?(event: CachePageInvalidateEvent): void;
  purge?(event: CachePagePurgeEvent): void;
  tier?(event: CachePageTierEvent): void;
}

/**
 * Subscribes listeners to the cache's diagnostics channels; returns the function that unsubscribes
 * them. A listener that throws is caught: telemetry never fails a request.
 *
 * @example
 * const stop = subscribeCachePage({ request: (e) => console.log(e.route, e.result) });
 * // later
 * stop();
 */
export function subscribeCachePage(listeners: CachePageListeners): () => void {
  const subscriptions: Array<[string, (message: unknown) => void]> = [];
  for (const kind of ["request", "store", "invalidate", "purge", "tier"] as const) {
    const listener = listeners[kind] as ((event: unknown) => void) | undefined;
    if (!listener) continue;
    const wrapped = (message: unknown) => {
      try {
        listener(message);
      } catch {
        // A broken metrics exporter must not break the request that published.
      }
    };
    diagnostics_channel.subscribe(CACHE_PAGE_CHANNELS[kind], wrapped);
    subscriptions.push([CACHE_PAGE_CHANNELS[kind], wrapped]);
  }
  let active = true;
  return () => {
    if (!active) return;
    active = false;
    for (const [name, listener] of subscriptions) diagnostics_channel.unsubscribe(name, listener);
  };
}
