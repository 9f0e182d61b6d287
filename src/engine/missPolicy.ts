import { getHttpSettings } from "../config/configure";
import { reportProblem } from "../logger";
import type { CachedResponse } from "../model";
import { strongEtag } from "../http/conditional";
import { freshnessHeadersToAdd, freshSeconds, ownFreshness, ownStaleWindows, type StaleWindows } from "../http/freshness";
import { headerText, sameHeaderValue, storableHeaders, type HeaderBag } from "../http/headers";
import { formatHttpDate } from "../http/httpDate";
import { validatorsOf, type Validators } from "../http/revalidation";
import { isSharedCacheable, whyHeadersForbidStoring, whyNotStorable } from "../http/storability";
import { varyNames } from "../http/vary";
import type { CachePlan } from "./cachePlan";
import { prepared, statusHeaders, type Reply } from "./replies";
import { ERROR_STATUSES, MAX_TIMEOUT_SECONDS, type ActionCacheSettings } from "./settings";

/** A miss's response as it will be stored, once what finally leaves allows it. */
export interface StorablePage {
  status: number;
  /** The page's own headers, as stored: without what outer middleware set for this one request. */
  headers: Record<string, string | string[]>;
  storedAt: number;
  freshSeconds: number;
  /** The action's `timeout` for this response (seconds). */
  timeout: number;
  initialAge: number;
  shared: boolean;
  /** The coding of the recorded bytes when the action encoded them itself; undefined: identity. */
  encoding?: string;
  noStale: boolean;
  /** The response's own `stale-while-revalidate` / `stale-if-error` (RFC 5861), up to `timeout`. */
  ownStale?: StaleWindows;
  /** The action's own `ETag` / `Last-Modified`: a stale copy is revalidated with them. */
  validators?: Validators;
}

/** What the cache does with a miss's response when it leaves the cache's layer. */
export interface PageDecision {
  /** Set when the response may be stored: record its body, and call `onLeft` once it left. */
  page?: StorablePage;
  /** Why it will not be stored (for the logger and telemetry). */
  reason?: string;
  /** The cache label the response goes out with. */
  label?: "MISS" | "BYPASS";
  /** Headers to set on the response before it is sent. */
  headers: Record<string, string | string[]>;
  /** Headers to remove (prepareResponse may drop some). */
  remove: string[];
  /** Send this stale entry instead of the error the action produced (staleIfError). */
  replaceWith?: Reply;
  /**
   * The action answered the cache's conditional request with 304: send (and record) this instead,
   * the stored response freshened by the 304's headers, before `headers` and `remove` apply.
   */
  substitute?: { status: number; headers: Record<string, string | string[]>; body: Buffer };
}

interface PageInput {
  status: number;
  headers: HeaderBag;
  body: Buffer | undefined;
  declaredLength?: number;
  markedDoNotCache: boolean;
  /** False when the response comes without the cache having looked the request up (a guard refused it). */
  lookedUp: boolean;
  lookupFailed: boolean;
  now: number;
  /** The response is the stored one freshened by the action's 304. */
  revalidated?: boolean;
}

/**
 * Headers the cache writes itself on every reply: never part of a stored page. (`Cache-Status` is
 * kept: at this layer it holds only what the action set, and ours goes after it on every reply.)
 */
function ownHeaderNames(): Set<string> {
  const names = new Set(["age"]);
  const { cacheStatusHeader, debugHeader } = getHttpSettings();
  if (cacheStatusHeader) names.add(cacheStatusHeader);
  if (debugHeader) names.add(debugHeader.header);
  return names;
}

/**
 * Decides on a miss's response at the cache's layer: not stored (with the reason in the status
 * headers), replaced by a stale entry (staleIfError), or storable, with the freshness, `Date` and
 * `ETag` headers to add. The page is the response without the headers outer middleware had set for
 * this request before the cache ran (CORS, security headers): those are the request's, and a hit
 * must not send them to another client.
 */
export function decidePage(plan: CachePlan, input: PageInput): PageDecision {
  const { settings, request } = plan;
  const { status, headers, body, now } = input;
  const existingStatus = headers["cache-status"] as string | string[] | undefined;
  const notStored = (label: "BYPASS" | "MISS", reason: string): PageDecision => ({
    reason,
    label,
    headers: statusHeaders(label, label === "MISS" ? { kind: "miss", stored: false, detail: reason } : { kind: "bypass", detail: reason }, existingStatus),
    remove: [],
  });
  if (input.markedDoNotCache) return notStored("BYPASS", "doNotCache");
  if (!input.lookedUp) return notStored("BYPASS", "the action did not run (refused by a guard or a parameter check)");
  if (plan.staleFallback && ERROR_STATUSES.has(status)) {
    return { reason: `status ${status}: the stale entry is served instead`, headers: {}, remove: [], replaceWith: plan.staleFallback };
  }
  if (input.lookupFailed) return notStored("BYPASS", "the cache store failed");
  const size = body?.length ?? input.declaredLength;
  const why = whyNotStorable({
    method: request.method,
    status,
    headers,
    statuses: settings.statuses,
    requestHasAuthorization: plan.authorizedRequest,
    cacheAuthorized: settings.cacheAuthorized,
    bodyKnown: body !== undefined || input.declaredLength !== undefined,
    bodySize: size,
    maxBodySize: getHttpSettings().maxBodySize,
  });
  if (why !== undefined) return notStored(request.method === "HEAD" ? "MISS" : "BYPASS", why);

  const own = pageHeaders(headers, plan.presetHeaders);
  const freshness = ownFreshness(headers, now);
  const stored = storableHeaders(own, ownHeaderNames());
  const timeout = timeoutFor(settings, { status, headers: stored, body: body ?? Buffer.alloc(0) });
  if (timeout === undefined) return notStored("BYPASS", "the timeout function did not return a whole number of seconds");
  if (timeout <= 0) return notStored("BYPASS", "timeout is not positive");
  const fresh = freshSeconds(timeout, freshness);
  if (!(fresh > 0)) return notStored("BYPASS", "the response is stale already (its own lifetime is 0)");

  const validators = validatorsOf(headers); // before the cache adds an ETag of its own
  const add: Record<string, string | string[]> = freshnessHeadersToAdd(headers, freshness, timeout, now, settings.staleWhileRevalidate, settings.staleIfError);
  // The Date the client gets is the one every hit replays (Node would add its own otherwise).
  if (headers.date === undefined) add.date = formatHttpDate(now);
  if (headers.etag === undefined && body !== undefined) add.etag = strongEtag(body);
  Object.assign(stored, add);

  // What the backend changes on the way out (a CDN's tag header, `private` when its tags overflow).
  const current: Record<string, string | string[]> = { ...storableHeaders(headers, new Set()), ...add };
  const out = prepared(plan.backend, { status, headers: current, body: body ?? Buffer.alloc(0) }, plan.surrogateKeys).headers;
  const remove = Object.keys(current).filter((name) => !(name in out));
  for (const [name, value] of Object.entries(out)) if (current[name] !== value) add[name] = value;
  Object.assign(add, statusHeaders("MISS", { kind: "miss", stored: false, revalidated: input.revalidated }, existingStatus));

  const encoding = codingOf(own["content-encoding"]);
  const ownStale = ownStaleWindows(freshness, timeout);
  const page: StorablePage = {
    status,
    headers: stored,
    storedAt: now,
    freshSeconds: fresh,
    timeout,
    initialAge: freshness.age,
    // Requests with Authorization are answered only from entries the response itself declared
    // shareable (public / s-maxage), or when the action opted in with cacheAuthorized.
    shared: settings.cacheAuthorized || isSharedCacheable(headers),
    ...(encoding ? { encoding } : {}),
    noStale: freshness.mustRevalidate,
    ...(ownStale.whileRevalidate > 0 || ownStale.ifError > 0 ? { ownStale } : {}),
    ...(validators ? { validators } : {}),
  };
  return { page, headers: add, remove, label: "MISS" };
}

/**
 * The final word, on the headers that really left after every middleware wrapped around the cache
 * (express-session's cookie, compression's encoding, koa-session, helmet...). Says whether the page
 * is stored and which request headers its variants are told apart by. `Accept-Encoding` counts only
 * when the action encoded the bytes itself: bytes recorded below a compression middleware are
 * identity, stored as such and encoded again for each client on the way out.
 */
export function finalVerdict(page: StorablePage, finalHeaders: HeaderBag): { store: false; reason: string } | { store: true; varyNames: string[] } {
  const why = whyHeadersForbidStoring(finalHeaders);
  if (why !== undefined) return { store: false, reason: `${why} (added on the way out)` };
  const names = varyNames(finalHeaders.vary).filter((name) => page.encoding !== undefined || name !== "accept-encoding");
  return { store: true, varyNames: names };
}

/** The response's headers without those outer middleware had set, unchanged, before the cache ran. */
function pageHeaders(headers: HeaderBag, preset: HeaderBag): HeaderBag {
  const own: HeaderBag = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name in preset && sameHeaderValue(preset[name], value)) continue;
    own[name] = value;
  }
  return own;
}

function codingOf(value: HeaderBag[string]): string | undefined {
  const text = headerText(value)?.trim().toLowerCase();
  return text === undefined || text === "" || text === "identity" ? undefined : text;
}

/**
 * The action's timeout for this response in whole seconds; a `timeout` function returning
 * anything else (a fraction, NaN, Infinity, more than a year) is reported and gives undefined.
 */
function timeoutFor(settings: ActionCacheSettings, response: CachedResponse): number | undefined {
  const t = settings.timeout;
  if (typeof t === "number") return t;
  try {
    const value = t(response);
    if (typeof value !== "number" || !Number.isInteger(value) || value > MAX_TIMEOUT_SECONDS) {
      throw new TypeError(
        `timeout function returned ${typeof value === "number" ? String(value) : typeof value}; it must return a whole number of seconds up to ${MAX_TIMEOUT_SECONDS}`,
      );
    }
    return value;
  } catch (error) {
    reportProblem(
      `timeout:${settings.where}`,
      `@CachePage on ${settings.where}: ${error instanceof Error ? error.message : String(error)}; the response was not stored`,
      error,
    );
    return undefined;
  }
}
