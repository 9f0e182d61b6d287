import "reflect-metadata";

export { CachePage } from "./decorators/CachePage";
export { Tags } from "./decorators/Tags";
export type { CachePageOptions } from "./decorators/validateOptions";

export { doNotCache } from "./engine/cacheRequest";

export { versioned, Versioned } from "./tags/versioned";
export type { TagSpec } from "./tags/resolveTags";

export { generateCacheKey, generateQueryParamsCacheKey } from "./keys/generateCacheKey";
export { hashKey } from "./keys/hashKey";
export { surrogateFromModel, surrogateFromPath, surrogateFromQueryParams, surrogateFromUser } from "./keys/surrogates";

export { BaseCacheBackend } from "./backends/base";
export type { CacheRequest, CachedResponse, CacheEntry, LookupResult, TagRef } from "./model";
export { KeyvCacheBackend, type KeyvCacheBackendOptions } from "./backends/keyv";
export type { KeyvStoreSpec, KeyvStores, KeyvStoreKind } from "./backends/openKeyvStores";
export type { PruneOptions, PruneResult, SampledPruneOptions } from "./backends/prune";
export { CompositeBackend, CompositeBackendError, type CompositeBackendOptions } from "./backends/composite";
export { FastlyBackend, type FastlyBackendOptions } from "./backends/fastly";
export { CloudflareBackend, type CloudflareBackendOptions } from "./backends/cloudflare";
export { VarnishBackend, type VarnishBackendOptions } from "./backends/varnish";
// The CDN building blocks (purge client, tag header formatter, limits) are in "custom-cache-page/cdn" (src/cdn.ts).

export { BaseSurrogateIndex } from "./indexes/base";
export { KeyvSurrogateIndex, type KeyvSurrogateIndexOptions, type SurrogateIndexStrategy } from "./indexes/keyv";
export { RedisSurrogateIndex, type RedisSurrogateIndexOptions } from "./indexes/redis";
export { NullSurrogateIndex } from "./indexes/null";

export {
  configureCachePage,
  getCacheBackend,
  resetCachePageConfig,
  type BackendConfig,
  type CachePageConfig,
} from "./config/configure";
export { BackendOptionsError, CachePageConfigError, CachePageOptionsError } from "./config/errors";

export { invalidateKey, invalidateTag, invalidateTags } from "./invalidation/invalidate";
export { Invalidator } from "./invalidation/Invalidator";

export { consoleLogger, setCacheLogger, silentLogger, type CacheLogger } from "./logger";
export { closeCachePage } from "./config/configure";
export {
  CacheInvalidationError,
  InvalidationTimeoutError,
  CACHE_INVALIDATION_ERROR_CODE,
  type CacheInvalidationFailure,
  type CacheInvalidationFailureReason,
} from "./invalidation/errors";
export type { InvalidateOptions, InvalidateKeyOptions } from "./invalidation/invalidate";
export { MemoryStore, type MemoryStoreOptions } from "./stores/memory/MemoryStore";
export { TagLimitError } from "./backends/TagLimitError";
export {
  CACHE_PAGE_CHANNELS,
  type CachePageResult,
  type CachePageRequestEvent,
  type CachePageStoreEvent,
  type CachePageInvalidateEvent,
  type CachePagePurgeEvent,
  type CachePageTierEvent,
} from "./telemetry/events";
export { subscribeCachePage, type CachePageListeners } from "./telemetry/subscribe";
