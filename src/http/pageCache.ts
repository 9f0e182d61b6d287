import type { BaseCacheBackend } from "../backends/base";
import type { CachedResponse, LookupResult, TagRef } from "../backends/types";
import { configGeneration, getCacheBackend, getHttpSettings } from "../config/configure";
import { buildStorageKey } from "../keys/storageKey";
import { reportProblem } from "../logger";
import { resolveTags, type TagSpec } from "../tags/resolveTags";
import { Versioned } from "../tags/versioned";
import { isRefreshRequest } from "./backgroundRefresh";
import { currentFlight, startFlight, waitFor, type Flight } from "./singleFlight";
import { guardedStoreCall, isCircuitOpen } from "./storeGuard";
import type { CacheRequest } from "./CacheRequest";
import { ifNoneMatchMatches, strongEtag } from "./etag";
import { freshnessHeaders, isSharedCacheable, NOT_MODIFIED_HEADERS, storableHeaders, whyNotStorable, type HeaderBag } from "./responseRules";

/** The cache settings of one action, as the decorators resolved them. */
export interface ActionCacheSettings {
  /** `Controller.method`, for messages. */
  where: string;
  timeout: number | ((response: CachedResponse) => number);
  keyFunc: (req: CacheRequest) => string;
  /** `options.tags` and `@Tags(...)`, merged. */
  tags: readonly TagSpec[];
  prefix?: string | ((req: CacheRequest) => string);
  backend?: string | BaseCacheBackend;
  onlyIf?: (req: CacheRequest) => boolean;
  statuses: ReadonlySet<number>;
  cacheAuthorized: boolean;
  /** Seconds after `timeout` during which a stale entry is served while one background refresh runs. */
  staleWhileRevalidate: number;
  /** Seconds after `timeout` during which a stale entry replaces an error (thrown, 500, 502, 503, 504). */
  staleIfError: number;
  /** How long a request waits for another one computing the same key (ms). */
  flightWaitMs: number;
  /** Cross-process stampede lock: `ttl` ms it lives at most, `wait` ms others wait for it. */
  lock?: { ttl: number; wait: number };
}

/** A response to send: `body` undefined means none (304). */
export interface Reply {
  status: number;
  /** May be shared between replies: read it, never change it. */
  headers: Readonly<Record<string, string | string[]>>;
  body: Buffer | undefined;
  /** The `Age` header, sent besides `headers`. */
  age?: string;
}

/** Statuses that count as an error for `staleIfError`. */
export const ERROR_STATUSES = new Set([500, 502, 503, 504]);

interface ReplyTemplate {
  generation: number;
  label: "HIT" | "STALE";
  surrogateKeys: readonly string[];
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  etag: string | undefined;
}

const templates = new WeakMap<CachedResponse, ReplyTemplate[]>();

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

const namesOf = new WeakMap<readonly TagRef[], string[]>();

/** The tag names, computed once per (static) tag list. */
function tagNames(tags: readonly TagRef[]): string[] {
  let names = namesOf.get(tags);
  if (!names) namesOf.set(tags, (names = tags.map((t) => t.name)));
  return names;
}

type Found =
  | { kind: "failed" }
  | { kind: "none" }
  | { kind: "fresh"; reply: Reply }
  | { kind: "stale"; reply: Reply; revalidate: boolean };

/** What the cache does with a request. */
export type RequestDecision = { kind: "pass" } | { kind: "bypass"; reason: string } | { kind: "cache"; plan: CachePlan };

/** What the cache does with a miss's response, decided when its headers go out. */
export interface MissDecision {
  store: boolean;
  reason?: string;
  /** Headers to set on the response before it is sent. */
  headers: Record<string, string | string[]>;
  /** Headers to remove (prepareResponse may drop some). */
  remove: string[];
  timeout: number;
  /** Send this stale entry instead of the error the action produced (staleIfError). */
  replaceWith?: Reply;
}

const OUR_HEADERS = new Set(["age", "date", "x-cache"]);

/**
 * Decides, before the action runs, whether the cache is involved. Never throws: a throwing or
 * wrong `keyFunc`, `prefix`, `onlyIf` or tag callable is reported and the request bypasses the cache.
 */
export function decide(settings: ActionCacheSettings, request: CacheRequest, markedDoNotCache: boolean): RequestDecision {
  if (request.method !== "GET" && request.method !== "HEAD") return { kind: "pass" };
  if (markedDoNotCache) return { kind: "bypass", reason: "doNotCache" };
  try {
    if (settings.onlyIf && !settings.onlyIf(request)) return { kind: "bypass", reason: "onlyIf returned false" };
    const key = settings.keyFunc(request);
    if (typeof key !== "string") {
      throw new TypeError(`keyFunc returned ${key === null ? "null" : typeof key}; it must return a string`);
    }
    const prefix = typeof settings.prefix === "function" ? settings.prefix(request) : settings.prefix;
    if (prefix !== undefined && typeof prefix !== "string") {
      throw new TypeError(`prefix returned ${prefix === null ? "null" : typeof prefix}; it must return a string`);
    }
    const tags = tagsFor(settings, request);
    const backend = typeof settings.backend === "object" ? settings.backend : getCacheBackend(settings.backend);
    return { kind: "cache", plan: new CachePlan(settings, request, buildStorageKey(prefix, key), tags, backend, isRefreshRequest(request)) };
  } catch (error) {
    const message = `@CachePage on ${settings.where}: ${error instanceof Error ? error.message : String(error)}; the request ran uncached`;
    reportProblem(`decide:${settings.where}`, message, error);
    return { kind: "bypass", reason: message };
  }
}

const staticTags = new WeakMap<ActionCacheSettings, TagRef[]>();

/** The request's tags; resolved once per action when every tag is static (no callable). */
function tagsFor(settings: ActionCacheSettings, request: CacheRequest): TagRef[] {
  const known = staticTags.get(settings);
  if (known) return known;
  const tags = resolveTags(settings.tags, request);
  const isStatic = settings.tags.every((t) => typeof t === "string" || (t instanceof Versioned && typeof t.name === "string"));
  if (isStatic) staticTags.set(settings, tags);
  return tags;
}

/** One cacheable request: its key, tags, backend, and what the lookup saw. */
export class CachePlan {
  readonly surrogateKeys: string[];
  readonly authorizedRequest: boolean;
  /** A stale entry to send instead of an error (staleIfError). */
  staleFallback?: Reply;
  private token: unknown;
  private lookedUp = false;
  private lookupFailed = false;
  private flight?: Flight;
  private committing = false;
  private lockToken?: string;

  constructor(
    readonly settings: ActionCacheSettings,
    readonly request: CacheRequest,
    readonly storageKey: string,
    readonly tags: TagRef[],
    readonly backend: BaseCacheBackend,
    /** This is our own background refresh: skip the entry, store the new response. */
    readonly refresh = false,
  ) {
    this.surrogateKeys = tagNames(tags);
    this.authorizedRequest = request.headers.authorization !== undefined;
  }

  /**
   * The reply to send from the cache, or undefined when the action must run. A stale entry inside
   * `staleWhileRevalidate` is sent at once while `refresh` runs one background refresh. Concurrent
   * misses of a key wait for the one request computing it (single-flight), then read its entry. A
   * failing or slow store is a miss, and the miss is then not stored.
   */
  async lookup(refresh?: () => boolean, now = Date.now()): Promise<Reply | undefined> {
    this.lookedUp = true;
    const found = await this.read(now);
    if (found.kind === "failed") return undefined;
    if (this.refresh) return this.lead();
    if (found.kind === "fresh") return found.reply;
    if (found.kind === "stale") {
      if (found.revalidate && (refresh?.() ?? false)) return found.reply; // a refresh runs (or already ran) in the background
      this.staleFallback = found.reply;
    }
    if (this.request.method !== "GET") return undefined;
    const flight = currentFlight(this.backend, this.storageKey);
    if (flight) {
      await waitFor(flight, this.settings.flightWaitMs);
      const again = await this.read(Date.now());
      return again.kind === "fresh" ? again.reply : undefined;
    }
    this.lead();
    return this.settings.lock ? this.waitForOtherProcesses(this.settings.lock) : undefined;
  }

  /** Ends this request's part in single-flight (if it led one) unless its entry is being stored (commit settles it then). */
  release(): void {
    if (!this.committing) this.settleFlight();
  }

  private settleFlight(): void {
    this.flight?.settle();
    const token = this.lockToken;
    if (token === undefined) return;
    this.lockToken = undefined;
    void this.backend.releaseLock(this.lockName(), token).catch(() => undefined);
  }

  private lead(): undefined {
    if (this.request.method === "GET") this.flight = startFlight(this.backend, this.storageKey);
    return undefined;
  }

  private lockName(): string {
    return `lock:${this.storageKey}`;
  }

  /**
   * Stampede protection across processes: takes the store's lock for this key, or, when another
   * process holds it, waits (up to `wait` ms) for that process's entry. A holder that died frees
   * the lock after `ttl` ms; whoever takes it then computes the page.
   */
  private async waitForOtherProcesses(lock: { ttl: number; wait: number }): Promise<Reply | undefined> {
    const deadline = Date.now() + lock.wait;
    for (;;) {
      let token: string | null | undefined;
      try {
        token = await guardedStoreCall(this.backend, "acquireLock", () => this.backend.acquireLock(this.lockName(), lock.ttl));
      } catch {
        return undefined; // no lock to be had: compute, as without one
      }
      if (token !== null) {
        this.lockToken = token;
        return undefined;
      }
      if (Date.now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, Math.min(25, Math.max(1, deadline - Date.now()))));
      const found = await this.read(Date.now());
      if (found.kind === "fresh") {
        this.settleFlight();
        return found.reply;
      }
      if (found.kind === "failed") return undefined;
    }
  }

  private async read(now: number): Promise<Found> {
    let result;
    try {
      result = await guardedStoreCall(this.backend, "lookup", () => this.backend.lookup(this.storageKey, this.tags));
    } catch (error) {
      this.lookupFailed = true;
      reportProblem(`lookup:${this.backend.constructor.name}`, `cache lookup failed on ${this.backend.constructor.name}; requests run uncached: ${error instanceof Error ? error.message : String(error)}`, error, "error");
      return { kind: "failed" };
    }
    this.token = result.token;
    return this.classify(result, now);
  }

  /**
   * The reply for a request answered from memory without any await (the in-memory store): the
   * fresh entry, or undefined, and then {@link lookup} runs as usual.
   */
  lookupNow(now = Date.now()): Reply | undefined {
    if (this.refresh || isCircuitOpen(this.backend)) return undefined;
    let result: LookupResult | undefined;
    try {
      result = this.backend.lookupSync(this.storageKey, this.tags);
    } catch {
      return undefined; // the async lookup reports it
    }
    if (!result?.response) return undefined;
    const found = this.classify(result, now);
    return found.kind === "fresh" ? found.reply : undefined;
  }

  private classify(result: LookupResult, now: number): Found {
    const stored = result.response;
    if (!stored || this.refresh) return { kind: "none" };
    const meta = result.metadata ?? {};
    if (this.authorizedRequest && !this.settings.cacheAuthorized && meta.shared !== true) return { kind: "none" };
    const storedAt = typeof meta.storedAt === "number" ? meta.storedAt : undefined;
    const freshUntil = typeof meta.freshUntil === "number" ? meta.freshUntil : Infinity;
    if (now <= freshUntil) return { kind: "fresh", reply: this.replyFor(stored, storedAt, now, "HIT") };
    const staleFor = now - freshUntil;
    if (staleFor <= this.settings.staleWhileRevalidate * 1000) return { kind: "stale", reply: this.replyFor(stored, storedAt, now, "STALE"), revalidate: true };
    if (staleFor <= this.settings.staleIfError * 1000) return { kind: "stale", reply: this.replyFor(stored, storedAt, now, "STALE"), revalidate: false };
    return { kind: "none" };
  }

  private replyFor(stored: CachedResponse, storedAt: number | undefined, now: number, label: "HIT" | "STALE"): Reply {
    const template = this.templateFor(stored, label);
    const age = String(storedAt === undefined ? 0 : Math.max(0, Math.floor((now - storedAt) / 1000)));
    if (this.request.headers["if-none-match"] !== undefined && ifNoneMatchMatches(this.request.headers["if-none-match"], template.etag)) {
      const notModified: Record<string, string | string[]> = {};
      const statusHeader = getHttpSettings().cacheStatusHeader;
      for (const [name, value] of Object.entries(template.headers)) {
        if (NOT_MODIFIED_HEADERS.has(name) || name === statusHeader) notModified[name] = value;
      }
      return { status: 304, headers: notModified, body: undefined, age };
    }
    // The template's headers go out as they are (no copy per hit); Age is sent beside them.
    // For HEAD the body is handed over too: Node and Koa send its length but not its bytes.
    return { status: template.status, headers: template.headers, body: template.body, age };
  }

  /**
   * What every hit of a stored response sends but for `Age`: prepared by the backend, with the
   * cache status and Content-Length. Built once per stored response object (the in-memory store
   * hands out the same one on every hit) and configuration.
   */
  private templateFor(stored: CachedResponse, label: "HIT" | "STALE"): ReplyTemplate {
    const generation = configGeneration();
    let known = templates.get(stored);
    if (known) {
      for (const t of known) {
        if (t.generation === generation && t.label === label && sameKeys(t.surrogateKeys, this.surrogateKeys)) return t;
      }
    }
    const prepared = this.prepare({ status: stored.status, headers: { ...stored.headers }, body: stored.body });
    const headers = prepared.headers;
    setCacheStatus(headers, label);
    headers["content-length"] = String(prepared.body.length);
    const template: ReplyTemplate = {
      generation,
      label,
      surrogateKeys: this.surrogateKeys,
      status: prepared.status,
      headers,
      body: prepared.body,
      etag: firstValue(headers.etag),
    };
    if (!known || known.length >= 4) templates.set(stored, (known = []));
    known.push(template);
    return template;
  }


  /**
   * Called when the miss's headers are about to go out. `body` is the whole body when known at
   * that point, undefined when the action streams it. Adds the cache headers when the response
   * will be stored, and says whether it will.
   */
  onMissHeaders(status: number, headers: HeaderBag, body: Buffer | undefined, markedDoNotCache: boolean, declaredLength?: number): MissDecision {
    const now = Date.now();
    const bypass = (reason: string): MissDecision => {
      this.release();
      const h: Record<string, string> = {};
      setCacheStatus(h, "BYPASS");
      return { store: false, reason, headers: h, remove: [], timeout: 0 };
    };
    if (markedDoNotCache) return bypass("doNotCache");
    if (this.staleFallback && ERROR_STATUSES.has(status)) {
      this.release();
      return { store: false, reason: `status ${status}: the stale entry is served instead`, headers: {}, remove: [], timeout: 0, replaceWith: this.staleFallback };
    }
    if (this.lookupFailed) return bypass("the cache store failed");
    const size = body?.length ?? declaredLength;
    const settings = getHttpSettings();
    const why = whyNotStorable({
      method: this.request.method,
      status,
      headers,
      statuses: this.settings.statuses,
      requestHasAuthorization: this.authorizedRequest,
      cacheAuthorized: this.settings.cacheAuthorized,
      bodyKnown: body !== undefined || declaredLength !== undefined,
      bodySize: size,
      maxBodySize: settings.maxBodySize,
    });
    if (why !== undefined) {
      if (this.request.method === "HEAD") {
        this.release();
        const h: Record<string, string> = {};
        setCacheStatus(h, "MISS");
        return { store: false, reason: why, headers: h, remove: [], timeout: 0 };
      }
      return bypass(why);
    }
    const stored = storableHeaders(headers, OUR_HEADERS);
    const timeout = this.timeoutFor({ status, headers: stored, body: body ?? Buffer.alloc(0) });
    if (!(timeout > 0)) return bypass("timeout is not positive");
    const add: Record<string, string | string[]> = {};
    const fresh = freshnessHeaders(headers["cache-control"], timeout, now, this.settings.staleWhileRevalidate, this.settings.staleIfError);
    add["cache-control"] = fresh["cache-control"];
    add.expires = fresh.expires;
    if (headers.etag === undefined && body !== undefined) add.etag = strongEtag(body);
    const current = { ...stored, ...add };
    const prepared = this.prepare({ status, headers: current, body: body ?? Buffer.alloc(0) }).headers;
    const remove = Object.keys(current).filter((name) => !(name in prepared));
    for (const [name, value] of Object.entries(prepared)) if (current[name] !== value) add[name] = value;
    setCacheStatus(add, "MISS");
    return { store: true, headers: add, remove, timeout };
  }

  /**
   * Stores the miss (in the background: the client never waits for the store). The entry lives
   * `timeout` seconds fresh plus the stale windows; requests waiting on this key are released
   * once it is stored.
   */
  commit(status: number, headers: HeaderBag, body: Buffer, timeout: number): Promise<void> {
    if (!this.lookedUp) return Promise.resolve();
    // From here the flight settles when the entry is stored, so waiters find it; a response that
    // was meant to be stored but never completed is released by release() like any other.
    this.committing = true;
    const storedAt = Date.now();
    const staleWindow = Math.max(this.settings.staleWhileRevalidate, this.settings.staleIfError);
    const stored = storableHeaders(headers, OUR_HEADERS);
    if (stored.etag === undefined) stored.etag = strongEtag(body);
    // Requests with Authorization are answered only from entries the response itself declared
    // shareable (public / s-maxage), or when the action opted in with cacheAuthorized.
    const shared = this.settings.cacheAuthorized || isSharedCacheable(stored);
    const entry = {
      key: this.storageKey,
      response: { status, headers: stored, body },
      timeout: timeout + staleWindow,
      surrogateKeys: this.surrogateKeys,
      tags: this.tags,
      token: this.token,
      metadata: { storedAt, freshUntil: storedAt + timeout * 1000, shared },
    };
    return guardedStoreCall(this.backend, "set", () => this.backend.set(entry))
      .catch((error) => {
        reportProblem(`set:${this.backend.constructor.name}`, `storing a response failed on ${this.backend.constructor.name}: ${error instanceof Error ? error.message : String(error)}`, error, "error");
      })
      .finally(() => this.settleFlight());
  }

  private timeoutFor(response: CachedResponse): number {
    const t = this.settings.timeout;
    if (typeof t === "number") return t;
    try {
      const value = t(response);
      if (typeof value !== "number" || Number.isNaN(value)) throw new TypeError(`timeout function returned ${typeof value}; it must return a number of seconds`);
      return value;
    } catch (error) {
      reportProblem(`timeout:${this.settings.where}`, `@CachePage on ${this.settings.where}: ${error instanceof Error ? error.message : String(error)}; the response was not stored`, error);
      return 0;
    }
  }

  private prepare(response: CachedResponse): CachedResponse {
    try {
      return this.backend.prepareResponse(response, this.surrogateKeys);
    } catch (error) {
      reportProblem(`prepare:${this.backend.constructor.name}`, `prepareResponse failed on ${this.backend.constructor.name}`, error, "error");
      return response;
    }
  }
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Sets the cache status header (X-Cache by default) unless it is switched off. */
export function setCacheStatus(headers: Record<string, string | string[]>, status: "HIT" | "MISS" | "BYPASS" | "STALE"): void {
  const name = getHttpSettings().cacheStatusHeader;
  if (name) headers[name] = status;
}
