import type { BaseCacheBackend } from "../backends/base";
import { getCacheBackend, registerActionBackend } from "../config/configure";
import { reportProblem } from "../logger";
import type { CacheRequest, TagRef } from "../model";
import { resolveTags } from "../tags/resolveTags";
import { Versioned } from "../tags/versioned";
import { isMarkedDoNotCache, UserNotResolved } from "./cacheRequest";
import { CachePlan } from "./cachePlan";
import type { ActionCacheSettings } from "./settings";

/** What the cache does with a request. */
export type RequestDecision =
  | { kind: "pass" }
  | { kind: "bypass"; reason: string }
  /** A callback read `user` before it was resolved: resolve it, then decide again. */
  | { kind: "needs-user" }
  | { kind: "cache"; plan: CachePlan };

/**
 * Decides, before the action runs, whether the cache is involved, and with which key, tags and
 * backend. Never throws: a throwing or wrong `keyFunc`, `prefix`, `onlyIf` or tag callable is
 * reported and the request bypasses the cache. A callback that calls `doNotCache(req)` bypasses it too.
 */
export function decide(settings: ActionCacheSettings, request: CacheRequest, native: { marked: boolean; refresh: boolean }): RequestDecision {
  if (request.method !== "GET" && request.method !== "HEAD") return { kind: "pass" };
  if (native.marked) return { kind: "bypass", reason: "doNotCache" };
  try {
    if (settings.onlyIf && !settings.onlyIf(request)) return { kind: "bypass", reason: "onlyIf returned false" };
    const key = settings.keyFunc(request);
    if (typeof key !== "string") {
      throw new TypeError(`keyFunc returned ${key === null ? "null" : typeof key}; it must return a string`);
    }
    const prefix = typeof settings.prefix === "function" ? settings.prefix(request) : settings.prefix;
    if (prefix !== undefined && typeof prefix !== "string") {
      throw new TypeError(`prefix returned ${prefix === null ? "null" : typeof prefix}; it must return a string`);
    }
    const tags = tagsFor(settings, request);
    if (isMarkedDoNotCache(request)) return { kind: "bypass", reason: "doNotCache" };
    let backend: BaseCacheBackend;
    if (typeof settings.backend === "object") {
      backend = settings.backend;
      // invalidateTag without a backend name reaches every instance an action was given.
      registerActionBackend(backend);
    } else {
      backend = getCacheBackend(settings.backend);
    }
    return { kind: "cache", plan: new CachePlan(settings, request, prefix, key, tags, backend, native.refresh) };
  } catch (error) {
    if (error instanceof UserNotResolved || (error instanceof Error && error.cause instanceof UserNotResolved)) {
      settings.memory.readsUser = true;
      return { kind: "needs-user" };
    }
    const message = `@CachePage on ${settings.where}: ${error instanceof Error ? error.message : String(error)}; the request ran uncached`;
    reportProblem(`decide:${settings.where}`, message, error);
    return { kind: "bypass", reason: message };
  }
}

const staticTags = new WeakMap<ActionCacheSettings, TagRef[]>();

/** The request's tags; resolved once per action when every tag is static (no callable). */
function tagsFor(settings: ActionCacheSettings, request: CacheRequest): TagRef[] {
  const known = staticTags.get(settings);
  if (known) return known;
  const tags = resolveTags(settings.tags, request);
  const isStatic = settings.tags.every((t) => typeof t === "string" || (t instanceof Versioned && typeof t.name === "string"));
  if (isStatic) staticTags.set(settings, tags);
  return tags;
}
