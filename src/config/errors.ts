/**
 * A configuration given to {@link configureCachePage} is wrong. `path` names the bad field,
 * e.g. `backends.cdn.options.apiToken`; the message says what to change.
 *
 * @example
 * try { configureCachePage(cfg); } catch (e) { if (e instanceof CachePageConfigError) console.error(e.path, e.message); }
 */
export class CachePageConfigError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly problems: Array<{ path: string; message: string }> = [{ path, message }],
  ) {
    super(message);
    this.name = "CachePageConfigError";
  }
}

/**
 * `@CachePage` or `@Tags` was given options that cannot work; thrown at start-up, never per request.
 *
 * @example
 * // @CachePage({ timeout: "1h", keyFunc }) throws:
 * // @CachePage on ProductController.list: "timeout" must be a number of seconds or a function returning one (got "1h")
 */
export class CachePageOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CachePageOptionsError";
  }
}

/**
 * A backend (or purge client) was built with options its schema refuses. `path` names the bad
 * field (e.g. `maxBytes`, `prune`); the message says what to change. `configureCachePage` checks
 * the same schema and reports the same message as a {@link CachePageConfigError} at
 * `backends.<name>.options.<path>`.
 *
 * @example
 * try { new KeyvCacheBackend({ maxBytes: -1 }); } catch (e) { if (e instanceof BackendOptionsError) console.error(e.path, e.message); }
 */
export class BackendOptionsError extends TypeError {
  constructor(
    message: string,
    readonly path: string,
    readonly problems: Array<{ path: string; message: string }> = [{ path, message }],
  ) {
    super(message);
    this.name = "BackendOptionsError";
  }
}
