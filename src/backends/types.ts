/** A whole HTTP response as the client got it. */
export interface CachedResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** A tag of an entry, as the backend needs to know it. */
export interface TagRef {
  name: string;
  /** Versioned tags are invalidated by a version bump and are not indexed. */
  versioned: boolean;
  /** Lifetime of the tag's version key, seconds. */
  versionTimeout: number;
}

/** What `set` receives. */
export interface CacheEntry {
  /** The storage key (prefix and `keyFunc` result). */
  key: string;
  response: CachedResponse;
  /** Seconds. */
  timeout: number;
  /** Every tag name of the entry (plain and versioned): what a CDN gets as surrogate keys. */
  surrogateKeys: string[];
  /** Free-form data stored with the entry and handed back by `lookup`. */
  metadata: Record<string, unknown>;
  /** The tags with their kind; when absent every surrogate key is a plain tag. */
  tags?: TagRef[];
  /** What `lookup` returned as `token` for this request: lets the backend refuse an entry whose tags were invalidated while it was computed. */
  token?: unknown;
}

/** What `lookup` returns. */
export interface LookupResult {
  response?: CachedResponse;
  metadata?: Record<string, unknown>;
  /** Opaque; handed back in `CacheEntry.token` when the miss is stored. */
  token?: unknown;
}
