import { validateOptions } from "../../config/validateOptions";
import { purgeChannel, type CachePagePurgeEvent } from "../../telemetry/events";
import { PurgeClientOptionsSchema } from "./purgeOptions";

/**
 * One HTTP request of a purge, as a CDN's API wants it.
 *
 * @example
 * const request: PurgeRequest = { url: "https://api.fastly.com/service/abc/purge", method: "POST", headers: { "fastly-key": token }, body: "{}" };
 */
export interface PurgeRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * What makes a purge Fastly's, Cloudflare's or Varnish's: the requests for one batch of keys and
 * how to read a successful answer. Retries, batching and errors are the {@link PurgeClient}'s job.
 *
 * @example
 * const transport: PurgeTransport = {
 *   cdn: "MyCDN",
 *   requestsFor: (keys) => [{ url: "http://127.0.0.1:9000/purge", method: "POST", headers: {}, body: JSON.stringify(keys) }],
 *   readResponse: async (response, keys) => { await response.arrayBuffer(); return keys.length; },
 * };
 */
export interface PurgeTransport {
  /** The CDN's name, for messages. */
  readonly cdn: string;
  /** The requests that purge `keys` (one per API call; Varnish sends one to each instance). */
  requestsFor(keys: string[]): PurgeRequest[];
  /** Reads a 2xx answer and returns how many things it purged; throws a {@link CdnRequestError} when the CDN refused. */
  readResponse(response: Response, keys: string[], request: PurgeRequest): Promise<number>;
  /** What to add to the message of a non-retryable HTTP error: the CDN's own error codes, which option to check on 401/403. */
  hintFor?(status: number, body: string): string | undefined;
}

/**
 * Time as the purge client sees it; tests swap it to check waits without waiting.
 *
 * @example
 * let now = 0;
 * const fakeClock: PurgeClock = { now: () => now, sleep: async (ms) => { now += ms; } };
 */
export interface PurgeClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/**
 * The real clock (the default).
 *
 * @example
 * await realClock.sleep(100);
 */
export const realClock: PurgeClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Retry and time limits of a purge; every CDN backend accepts them.
 *
 * @example
 * new FastlyBackend({ apiToken, serviceId, timeoutMs: 5000, maxRetries: 3, retryBudgetMs: 20000 });
 */
export interface PurgeRetryOptions {
  /** Time limit of one HTTP request in ms (default 10000). */
  timeoutMs?: number;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Retries after the first attempt for 429, 5xx, network errors and timeouts (default 5). */
  maxRetries?: number;
  /** First backoff in ms, doubled on each retry (default 250). */
  retryBaseDelayMs?: number;
  /** Largest computed backoff in ms (default 10000); a server's Retry-After is honoured as given. */
  retryMaxDelayMs?: number;
  /** Most time one request may take with all its retries and waits, in ms (default 30000). */
  retryBudgetMs?: number;
  /** Replaces the clock (tests). */
  clock?: PurgeClock;
  /** Replaces Math.random for the backoff jitter (tests). */
  random?: () => number;
}

/**
 * Only the {@link PurgeRetryOptions} of a backend's options (the rest, e.g. tokens, stays out of the client).
 *
 * @example
 * new PurgeClient(transport, { ...pickRetryOptions(options), batchSize: 100 });
 */
export function pickRetryOptions(options: PurgeRetryOptions): PurgeRetryOptions {
  const { timeoutMs, concurrency, maxRetries, retryBaseDelayMs, retryMaxDelayMs, retryBudgetMs, clock, random } = options;
  return { timeoutMs, concurrency, maxRetries, retryBaseDelayMs, retryMaxDelayMs, retryBudgetMs, clock, random };
}

/**
 * Options of {@link PurgeClient}.
 *
 * @example
 * const options: PurgeClientOptions = { batchSize: 100, maxBatchBytes: 7000, keyIdentity: (k) => k.toLowerCase() };
 */
export interface PurgeClientOptions extends PurgeRetryOptions {
  /** Most keys in one request. */
  batchSize: number;
  /** Most bytes of keys (joined with one separator byte) in one request, when a header carries them. */
  maxBatchBytes?: number;
  /** Keys with the same identity are purged once (default: the key itself). */
  keyIdentity?: (key: string) => string;
}

/**
 * The retry and time limits used when an option is not given.
 *
 * @example
 * PURGE_DEFAULTS.timeoutMs // 10000
 */
export const PURGE_DEFAULTS = Object.freeze({
  timeoutMs: 10_000,
  concurrency: 4,
  maxRetries: 5,
  retryBaseDelayMs: 250,
  retryMaxDelayMs: 10_000,
  retryBudgetMs: 30_000,
});

/**
 * One request of a purge failed for good. `retryable` says whether it was worth retrying (429, 5xx,
 * network error, timeout); `attempts` how many times it was sent.
 *
 * @example
 * if (error.cause instanceof CdnRequestError && error.cause.status === 401) console.error("check apiToken");
 */
export class CdnRequestError extends Error {
  attempts = 1;

  constructor(
    message: string,
    readonly details: { url: string; status?: number; retryable: boolean; retryAfterMs?: number; body?: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CdnRequestError";
  }

  get status(): number | undefined {
    return this.details.status;
  }

  get retryable(): boolean {
    return this.details.retryable;
  }
}

/**
 * One request of a purge that failed, with its keys.
 *
 * @example
 * for (const f of error.failures) console.error(f.url, f.keys, f.error.status);
 */
export interface PurgeFailure {
  keys: string[];
  url: string;
  error: CdnRequestError;
}

/**
 * A purge left some keys unpurged. Every other request still ran: `purged` is what they purged,
 * `failedKeys` the keys still cached somewhere, `failures` each failed request with its cause
 * (also in `errors`, as for any AggregateError). Purging the failed keys again is safe.
 *
 * @example
 * try { await fastly.invalidateBySurrogates(tags); }
 * catch (e) { if (e instanceof CdnPurgeError) retryLater(e.failedKeys); }
 */
export class CdnPurgeError extends AggregateError {
  readonly failedKeys: string[];

  constructor(
    readonly cdn: string,
    readonly failures: PurgeFailure[],
    readonly purged: number,
    readonly totalKeys: number,
    readonly totalRequests: number,
  ) {
    const failedKeys = [...new Set(failures.flatMap((f) => f.keys))];
    const causes = failures
      .slice(0, 5)
      .map((f) => `[${listKeys(f.keys)}] at ${f.url}: ${f.error.message}`)
      .join("; ");
    const moreCauses = failures.length > 5 ? `; and ${failures.length - 5} more failed request(s)` : "";
    super(
      failures.map((f) => f.error),
      `${cdn} purge failed for ${failedKeys.length} of ${totalKeys} key(s) (${failures.length} of ${totalRequests} request(s) failed` +
        `${failures.length < totalRequests ? "; the others were purged" : ""}): ${causes}${moreCauses}`,
    );
    this.name = "CdnPurgeError";
    this.failedKeys = failedKeys;
  }
}

function listKeys(keys: string[]): string {
  const shown = keys.slice(0, 10).join(", ");
  return keys.length > 10 ? `${shown}, … ${keys.length - 10} more` : shown;
}

/**
 * The keys without repeats (same identity), order kept.
 *
 * @example
 * dedupeKeys(["a", "A", "a"], (k) => k.toLowerCase()) // ["a"]
 */
export function dedupeKeys(keys: readonly string[], identity: (key: string) => string = (k) => k): string[] {
  const seen = new Set<string>();
  return keys.filter((key) => {
    const id = identity(key);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/**
 * Cuts keys into batches of at most `batchSize` keys and, when given, `maxBatchBytes` bytes once
 * joined with a one-byte separator. A key alone over `maxBatchBytes` gets a batch of its own.
 *
 * @example
 * batchKeys(["a", "b", "c"], 2) // [["a", "b"], ["c"]]
 */
export function batchKeys(keys: readonly string[], batchSize: number, maxBatchBytes = Infinity): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const key of keys) {
    const size = Buffer.byteLength(key) + (current.length > 0 ? 1 : 0);
    if (current.length > 0 && (current.length >= batchSize || bytes + size > maxBatchBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(key);
    bytes += Buffer.byteLength(key) + (current.length > 1 ? 1 : 0);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * How long the server asked us to wait, in ms, from `Retry-After` (seconds or an HTTP date) and
 * `Fastly-RateLimit-Reset` (epoch seconds); the larger one wins. Undefined when neither is usable.
 *
 * @example
 * serverRetryDelayMs(new Headers({ "retry-after": "2" }), Date.now()) // 2000
 */
export function serverRetryDelayMs(headers: Headers, now: number): number | undefined {
  const delays: number[] = [];
  const retryAfter = headers.get("retry-after")?.trim();
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) delays.push(Number(retryAfter) * 1000);
    else {
      const at = Date.parse(retryAfter);
      if (!Number.isNaN(at)) delays.push(at - now);
    }
  }
  const reset = headers.get("fastly-ratelimit-reset")?.trim();
  if (reset && /^\d+$/.test(reset)) delays.push(Number(reset) * 1000 - now);
  return delays.length > 0 ? Math.max(0, ...delays) : undefined;
}

/**
 * The computed backoff before retry number `retry` (1-based): `base * 2^(retry-1)` capped at
 * `max`, with "equal jitter" (between half and all of it) so that many clients do not retry in step.
 *
 * @example
 * backoffDelayMs(3, 100, 10000, () => 1) // 400
 */
export function backoffDelayMs(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

/**
 * Purges keys through a {@link PurgeTransport}: removes repeats, cuts batches, sends them with
 * bounded concurrency, gives every request a timeout, and retries 429, 5xx, network errors and
 * timeouts with exponential backoff, honouring `Retry-After` and `Fastly-RateLimit-Reset`, within a
 * time budget per request. Requests that still fail are reported together in one
 * {@link CdnPurgeError} after all the others ran.
 *
 * @example
 * const client = new PurgeClient(transport, { batchSize: 256, concurrency: 4 });
 * const purged = await client.purge(["product-1", "products"]);
 */
export class PurgeClient {
  private readonly settings: Required<PurgeClientOptions>;

  constructor(
    readonly transport: PurgeTransport,
    options: PurgeClientOptions,
  ) {
    validateOptions(`PurgeClient (${transport.cdn})`, PurgeClientOptionsSchema, options);
    const merged = { ...PURGE_DEFAULTS, ...stripUndefined(options) };
    this.settings = {
      batchSize: options.batchSize,
      maxBatchBytes: options.maxBatchBytes ?? Infinity,
      timeoutMs: merged.timeoutMs,
      concurrency: merged.concurrency,
      maxRetries: merged.maxRetries,
      retryBaseDelayMs: merged.retryBaseDelayMs,
      retryMaxDelayMs: merged.retryMaxDelayMs,
      retryBudgetMs: merged.retryBudgetMs,
      keyIdentity: options.keyIdentity ?? ((k: string) => k),
      clock: options.clock ?? realClock,
      random: options.random ?? Math.random,
    };
  }

  /**
   * The longest one purge request may take with its retries and waits (ms): the CDN backend's store timeout.
   *
   * @example
   * new PurgeClient(transport, { batchSize: 100, retryBudgetMs: 5000 }).retryBudgetMs // 5000
   */
  get retryBudgetMs(): number {
    return this.settings.retryBudgetMs;
  }

  /** Purges `keys`; resolves with the total the transport counted, or rejects with a {@link CdnPurgeError}. */
  async purge(keys: readonly string[]): Promise<number> {
    const unique = dedupeKeys(keys, this.settings.keyIdentity);
    if (unique.length === 0) return 0;
    const tasks = batchKeys(unique, this.settings.batchSize, this.settings.maxBatchBytes).flatMap((batch) =>
      this.transport.requestsFor(batch).map((request) => ({ batch, request })),
    );
    let purged = 0;
    const failures: Array<PurgeFailure & { index: number }> = [];
    let next = 0;
    const worker = async () => {
      while (next < tasks.length) {
        const index = next++;
        const { batch, request } = tasks[index];
        try {
          const count = await this.sendWithRetries(request, batch);
          purged += count;
        } catch (error) {
          failures.push({ index, keys: batch, url: request.url, error: error as CdnRequestError });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.settings.concurrency, tasks.length) }, worker));
    if (failures.length > 0) {
      failures.sort((a, b) => a.index - b.index);
      throw new CdnPurgeError(
        this.transport.cdn,
        failures.map(({ keys, url, error }) => ({ keys, url, error })),
        purged,
        unique.length,
        tasks.length,
      );
    }
    return purged;
  }

  private async sendWithRetries(request: PurgeRequest, keys: string[]): Promise<number> {
    const { clock, maxRetries, retryBudgetMs, retryBaseDelayMs, retryMaxDelayMs, random } = this.settings;
    const started = clock.now();
    for (let attempt = 1; ; attempt += 1) {
      const remaining = retryBudgetMs - (clock.now() - started);
      let error: CdnRequestError;
      try {
        const count = await this.send(request, keys, Math.max(1, Math.min(this.settings.timeoutMs, remaining)));
        this.published(keys, attempt);
        return count;
      } catch (caught) {
        error = caught as CdnRequestError;
      }
      error.attempts = attempt;
      if (!error.retryable) throw this.published(keys, attempt, error);
      if (attempt > maxRetries) {
        error.message += ` (gave up after ${attempt} attempts; raise maxRetries to try longer)`;
        throw this.published(keys, attempt, error);
      }
      const hinted = error.details.retryAfterMs;
      const wait = hinted !== undefined ? Math.max(hinted, retryBaseDelayMs) : backoffDelayMs(attempt, retryBaseDelayMs, retryMaxDelayMs, random);
      const elapsed = clock.now() - started;
      if (elapsed + wait >= retryBudgetMs) {
        error.message +=
          ` (gave up after ${attempt} attempt(s): waiting ${wait} ms more${hinted !== undefined ? " as the server asked" : ""} ` +
          `would pass retryBudgetMs=${retryBudgetMs}; raise it to wait longer)`;
        throw this.published(keys, attempt, error);
      }
      await clock.sleep(wait);
    }
  }

  /** One `custom-cache-page:purge` message per purge request, when anyone listens; returns the error. */
  private published<E>(keys: string[], attempts: number, error?: E): E | undefined {
    if (purgeChannel.hasSubscribers) {
      const event: CachePagePurgeEvent = { backend: this.transport.cdn, keys, attempts };
      if (error !== undefined) event.error = error;
      purgeChannel.publish(event);
    }
    return error;
  }

  private async send(request: PurgeRequest, keys: string[], timeoutMs: number): Promise<number> {
    const { cdn } = this.transport;
    const where = `${request.method} ${request.url}`;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body, signal, redirect: "manual" });
      if (response.status >= 200 && response.status < 300) {
        try {
          return await this.transport.readResponse(response, keys, request);
        } catch (error) {
          if (error instanceof CdnRequestError || signal.aborted) throw error;
          throw new CdnRequestError(
            `${cdn} sent an answer to ${where} that could not be read: ${error instanceof Error ? error.message : String(error)}`,
            { url: request.url, status: response.status, retryable: false },
            { cause: error },
          );
        }
      }
      const body = (await response.text().catch(() => "")).slice(0, 500);
      const retryable = response.status === 429 || response.status >= 500;
      const hint = retryable ? undefined : this.transport.hintFor?.(response.status, body);
      throw new CdnRequestError(
        `${cdn} answered HTTP ${response.status} to ${where}${body ? `: ${body.replace(/\s+/g, " ").trim()}` : ""}${hint ? ` (${hint})` : ""}`,
        {
          url: request.url,
          status: response.status,
          retryable,
          retryAfterMs: retryable ? serverRetryDelayMs(response.headers, this.settings.clock.now()) : undefined,
          body,
        },
      );
    } catch (error) {
      if (error instanceof CdnRequestError) throw error;
      if (signal.aborted || (error instanceof Error && error.name === "TimeoutError")) {
        throw new CdnRequestError(
          `${cdn} did not answer ${where} within ${timeoutMs} ms (raise timeoutMs if the API is slow)`,
          { url: request.url, retryable: true },
          { cause: error },
        );
      }
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new CdnRequestError(
        `${cdn} could not be reached at ${where}: ${reason} (check the endpoint / urls option and the network)`,
        { url: request.url, retryable: true },
        { cause: error },
      );
    }
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
