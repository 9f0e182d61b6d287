/**
 * Thrown by {@link KeyvCacheBackend.set} when a response carries more tags than `maxTags`, or a
 * tag longer than {@link MAX_TAG_BYTES}: the entry is not stored (the response was served
 * all the same); the engine logs the reason. `code` is stable: `E_TAG_LIMIT`.
 *
 * @example
 * try { await backend.set(entry); } catch (e) { if (e instanceof TagLimitError) logger.warn(e.message); }
 */
export class TagLimitError extends Error {
  readonly code = "E_TAG_LIMIT";

  constructor(
    /** The storage key of the entry that was not stored. */
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = "TagLimitError";
  }
}

/**
 * Longest tag an entry may carry, in UTF-8 bytes.
 *
 * @example
 * Buffer.byteLength(tag) <= MAX_TAG_BYTES;
 */
export const MAX_TAG_BYTES = 256;

/**
 * Default of `maxTags`: tags one response may carry.
 *
 * @example
 * new KeyvCacheBackend({ maxTags: DEFAULT_MAX_TAGS }); // the default
 */
export const DEFAULT_MAX_TAGS = 64;
