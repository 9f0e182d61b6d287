/**
 * The stable `code` of every {@link CacheInvalidationError}.
 *
 * @example
 * if ((error as { code?: string }).code === CACHE_INVALIDATION_ERROR_CODE) retryLater();
 */
export const CACHE_INVALIDATION_ERROR_CODE = "ERR_CACHE_INVALIDATION";

/**
 * Why an invalidation failed on one backend: the store answered with an error (`"error"`), did not
 * answer within its store timeout plus one second (`"timeout"`), or the backend cannot do what was
 * asked (`"unsupported"`, e.g. `mode: "stale"` on a Keyv backend).
 *
 * @example
 * if (error.reason === "timeout") console.warn(`${error.backend} is unreachable`);
 */
export type CacheInvalidationFailureReason = "error" | "timeout" | "unsupported";

/**
 * One backend an invalidation could not reach, with its cause.
 *
 * @example
 * for (const f of error.failures) console.error(f.backend, f.reason, f.cause);
 */
export interface CacheInvalidationFailure {
  backend: string;
  reason: CacheInvalidationFailureReason;
  cause: unknown;
}

/**
 * `invalidateTag`, `invalidateTags` or `invalidateKey` could not invalidate on every backend it
 * had to reach. `backend` names the (first) backend that failed, `tags` the tags asked for (empty
 * for `invalidateKey`; `key` is set then), `cause` that backend's error; `failures` lists every
 * failing backend when several did. The other backends were still invalidated (`partial` holds the
 * sum they returned): invalidating again is safe. `code` is always `"ERR_CACHE_INVALIDATION"`.
 *
 * @example
 * try {
 *   await invalidateTag("products");
 * } catch (error) {
 *   if (error instanceof CacheInvalidationError) queueRetry(error.tags, error.backend);
 *   else throw error;
 * }
 */
export class CacheInvalidationError extends Error {
  readonly code = CACHE_INVALIDATION_ERROR_CODE;
  readonly backend: string;
  readonly reason: CacheInvalidationFailureReason;
  override readonly cause: unknown;

  constructor(
    readonly tags: string[],
    readonly failures: CacheInvalidationFailure[],
    readonly partial: number = 0,
    readonly key?: string,
  ) {
    const [first] = failures;
    const what = key !== undefined ? `key ${JSON.stringify(key)}` : `tag(s) ${tags.map((t) => JSON.stringify(t)).join(", ")}`;
    const others =
      failures.length > 1
        ? ` (and ${failures.length - 1} more backend(s): ${failures
            .slice(1)
            .map((f) => `"${f.backend}"`)
            .join(", ")})`
        : "";
    super(`Could not invalidate ${what} on backend "${first.backend}"${others}: ${describeFailure(first)}`, { cause: first.cause });
    this.name = "CacheInvalidationError";
    this.backend = first.backend;
    this.reason = first.reason;
    this.cause = first.cause;
  }
}

function describeFailure(failure: CacheInvalidationFailure): string {
  const message = failure.cause instanceof Error ? failure.cause.message : String(failure.cause);
  if (failure.reason === "timeout")
    return `${message}. The store is unreachable or too slow; nothing says the entries are gone — invalidate again once it answers.`;
  return message;
}

/**
 * The store of a backend did not answer an invalidation in time (the cause of a
 * {@link CacheInvalidationError} whose `reason` is `"timeout"`).
 *
 * @example
 * if (error.cause instanceof InvalidationTimeoutError) console.log(error.cause.timeoutMs);
 */
export class InvalidationTimeoutError extends Error {
  constructor(
    readonly backend: string,
    readonly timeoutMs: number,
  ) {
    super(`backend "${backend}" made no progress for ${timeoutMs} ms (its store timeout plus 1 s)`);
    this.name = "InvalidationTimeoutError";
  }
}
