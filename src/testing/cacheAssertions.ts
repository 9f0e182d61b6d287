/**
 * What {@link expectHit} and its siblings accept: a supertest or superagent response, a `fetch`
 * `Response`, a Node `IncomingMessage`, or anything with headers.
 */
export type ResponseWithHeaders = { headers: Headers | Record<string, string | string[] | number | undefined> } | { header: Record<string, unknown> };

/** The cache's verdict on one response, from its `X-Cache` header. */
export type CacheOutcome = "HIT" | "MISS" | "BYPASS" | "STALE";

/**
 * The value of the `X-Cache` header the cache adds to every response of a cached action, or
 * undefined when the response has none (the action is not cached, or the cache never ran).
 *
 * @example
 * expect(cacheOutcomeOf(await request(app).get("/products"))).to.equal("MISS");
 */
export function cacheOutcomeOf(response: ResponseWithHeaders): string | undefined {
  const value = headerOf(response, "x-cache");
  return value === undefined ? undefined : value.toUpperCase();
}

/**
 * Throws unless the response was served from the cache (`X-Cache: HIT`, or `STALE` when
 * `{ allowStale: true }`). The message shows the `Cache-Status` header, which says why it was not.
 *
 * @example
 * await request(app).get("/products");
 * expectHit(await request(app).get("/products"));
 */
export function expectHit(response: ResponseWithHeaders, options: { allowStale?: boolean } = {}): void {
  expectOutcome(response, options.allowStale ? ["HIT", "STALE"] : ["HIT"]);
}

/**
 * Throws unless the action ran and the cache looked first (`X-Cache: MISS`).
 *
 * @example
 * expectMiss(await request(app).get("/products?page=2"));
 */
export function expectMiss(response: ResponseWithHeaders): void {
  expectOutcome(response, ["MISS"]);
}

/**
 * Throws unless the cache stood aside for this request (`X-Cache: BYPASS`: `doNotCache`, `onlyIf`,
 * an unknown backend...).
 *
 * @example
 * expectBypass(await request(app).get("/products").set("x-preview", "1"));
 */
export function expectBypass(response: ResponseWithHeaders): void {
  expectOutcome(response, ["BYPASS"]);
}

function expectOutcome(response: ResponseWithHeaders, wanted: CacheOutcome[]): void {
  const outcome = cacheOutcomeOf(response);
  if (outcome !== undefined && (wanted as string[]).includes(outcome)) return;
  const status = headerOf(response, "cache-status");
  const got = outcome === undefined ? "no X-Cache header (is the action decorated with @CachePage?)" : `X-Cache: ${outcome}`;
  throw new CacheAssertionError(`expected X-Cache: ${wanted.join(" or ")}, got ${got}${status ? ` (Cache-Status: ${status})` : ""}`);
}

/**
 * The error {@link expectHit}, {@link expectMiss} and {@link expectBypass} throw; test frameworks
 * show it as a failed assertion.
 *
 * @example
 * try { expectHit(res); } catch (error) { if (error instanceof CacheAssertionError) console.log(error.message); }
 */
export class CacheAssertionError extends Error {
  override readonly name = "CacheAssertionError";
  readonly code = "E_CACHE_ASSERTION";
}

function headerOf(response: ResponseWithHeaders, name: string): string | undefined {
  const headers = "headers" in response ? response.headers : (response.header as Record<string, unknown>);
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, unknown>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value.join(", ") : String(value);
}
