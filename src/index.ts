import "reflect-metadata";

export { CachePage } from "./decorators/CachePage";
export { Tags } from "./decorators/Tags";
export type { CachePageOptions } from "./decorators/validateOptions";

export { doNotCache, type CacheRequest } from "./http/CacheRequest";

export { versioned, Versioned } from "./tags/versioned";
export type { TagSpec } from "./tags/resolveTags";

export { generateCacheKey, generateQueryParamsCacheKey } from "./keys/generateCacheKey";
export { hashKey } from "./keys/hashKey";
export { surrogateFromModel, surrogateFromPath, surrogateFromQueryParams, surrogateFromUser } from "./keys/surrogates";

export { BaseCacheBackend } from "./backends/base";
export type { CachedResponse, CacheEntry, LookupResult, TagRef } from "./backends/types";
export { KeyvCacheBackend, type KeyvCacheBackendOptions } from "./backends/keyv";
export { CompositeBackend, CompositeBackendError, type CompositeBackendOptions } from "./backends/composite";

export { BaseSurrogateIndex } from "./indexes/base";
export { KeyvSurrogateIndex } from "./indexes/keyv";
export { RedisSurrogateIndex, type RedisSurrogateIndexOptions } from "./indexes/redis";
export { NullSurrogateIndex } from "./indexes/null";

export {
  configureCachePage,
  getCacheBackend,
  resetCachePageConfig,
  type BackendConfig,
  type CachePageConfig,
} from "./config/configure";
export { CachePageConfigError, CachePageOptionsError } from "./config/errors";

export { invalidateKey, invalidateTag, invalidateTags } from "./invalidation/invalidate";
export { Invalidator } from "./invalidation/Invalidator";

export { consoleLogger, setCacheLogger, silentLogger, type CacheLogger } from "./logger";
