// The shared types live in model.ts (the bottom layer); backends import them from here too.
export type { CachedResponse, CacheEntry, LookupResult, TagRef } from "../model";
