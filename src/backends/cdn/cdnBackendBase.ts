import { reportProblem } from "../../logger";
import { BaseCacheBackend } from "../base";
import type { CachedResponse, CacheEntry } from "../types";
import type { PurgeClient } from "./purgeClient";
import type { TagHeaderFormatter } from "./tagHeaderFormatter";

/**
 * What Fastly, Cloudflare and Varnish backends share. A CDN keeps the responses itself, so this
 * backend stores nothing: `get` finds nothing, `set` does nothing, `delete` deletes nothing (a cache
 * key is not a URL the CDN knows). It tags responses through its {@link TagHeaderFormatter} and
 * invalidates by purging the same normalised keys through its {@link PurgeClient}. Put it in a
 * {@link CompositeBackend} after a local backend to have both.
 *
 * @example
 * class MyCdnBackend extends CdnBackendBase {
 *   constructor() {
 *     super({}, new CdnTagHeaderFormatter(FASTLY_TAG_HEADER), new PurgeClient(myTransport, { batchSize: 50 }));
 *   }
 * }
 */
export abstract class CdnBackendBase extends BaseCacheBackend {
  /** A CDN keeps no entries of this process: it never conflicts with a local or a shared store. */
  override readonly storeScope = "none" as const;
  /** A purge settles on its own within the purge client's retry budget; an invalidation waits that long (plus 1 s) at most. */
  override readonly storeTimeoutMs: number;

  /**
   * @param softPurgeClient purges for `invalidateTag(t, { mode: "stale" })` (Fastly's
   *   `Fastly-Soft-Purge: 1`, Varnish's `xkey-softpurge`); without one, stale mode purges.
   */
  constructor(
    options: Record<string, unknown>,
    readonly tagHeader: TagHeaderFormatter,
    readonly purgeClient: PurgeClient,
    readonly softPurgeClient: PurgeClient = purgeClient,
  ) {
    super(options);
    this.storeTimeoutMs = purgeClient.retryBudgetMs;
  }

  /** What a purge of `keys` sends: the header's keys (and their hash buckets when the header used them). */
  protected purgeKeysOf(keys: readonly string[]): string[] {
    return this.tagHeader.purgeKeys?.(keys) ?? this.tagHeader.normalizeKeys(keys);
  }

  /** Purges with the backend's own purge mode; `deleted` is what the CDN says it purged. */
  override async invalidateTagsDetailed(tags: string[]): Promise<{ deleted: number; versions: Record<string, number> }> {
    return { deleted: await this.invalidateBySurrogates(tags), versions: {} };
  }

  /** A soft purge where the CDN has one (the stale objects are served while refetched); else a purge. */
  override async invalidateBySurrogatesStale(tags: string[]): Promise<number> {
    return this.softPurgeClient.purge(this.purgeKeysOf(tags));
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    void key;
    return undefined;
  }

  async set(entry: CacheEntry): Promise<void> {
    void entry;
  }

  async delete(key: string): Promise<boolean> {
    void key;
    return false;
  }

  /** Purges one tag at the CDN; resolves with what the CDN purged (see the backend), rejects with a `CdnPurgeError`. */
  async invalidateBySurrogate(surrogateKey: string): Promise<number> {
    return this.invalidateBySurrogates([surrogateKey]);
  }

  /** Purges several tags in as few requests as the CDN allows. */
  override async invalidateBySurrogates(keys: string[]): Promise<number> {
    return this.purgeClient.purge(this.purgeKeysOf(keys));
  }

  /**
   * Adds the tag header. When the tags cannot fit and the CDN takes a single header (Cloudflare),
   * the response is made `private` so the CDN does not keep what it could not purge, and the
   * logger is told which route needs fewer tags.
   */
  override prepareResponse(response: CachedResponse, surrogateKeys: string[]): CachedResponse {
    const outcome = this.tagHeader.apply(response, surrogateKeys);
    if (outcome.hashed) {
      const { bytes, limit, keys, buckets } = outcome.hashed;
      reportProblem(
        `cdn-tag-hashed:${this.constructor.name}`,
        `${this.constructor.name}: ${keys} tags need ${bytes} bytes in the ${this.tagHeader.headerName} header, over the limit of ${limit}; ` +
          `the response carries ${buckets} hash-bucket keys instead, and every purge also purges the bucket of each key, so this page is ` +
          `still purged by each of its tags (and, sometimes, by others). Give this route fewer tags to keep purges precise.`,
      );
    }
    if (outcome.overflow) {
      const { bytes, limit, keys } = outcome.overflow;
      reportProblem(
        `cdn-tag-overflow:${this.constructor.name}`,
        `${this.constructor.name}: ${keys} tags need ${bytes} bytes in the ${this.tagHeader.headerName} header, over the limit of ${limit}; ` +
          `the response was sent with Cache-Control: private so the CDN does not cache it. Give this route fewer tags ` +
          `(e.g. one per model instead of one per row).`,
      );
    }
    return outcome.response;
  }
}
