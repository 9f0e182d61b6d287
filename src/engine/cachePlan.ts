import type { BaseCacheBackend } from "../backends/base";
import { buildStorageKey } from "../keys/storageKey";
import { retainBackend } from "../config/configure";
import { reportProblem } from "../logger";
import type { CacheRequest, LookupResult, TagRef } from "../model";
import { strongEtag } from "../http/conditional";
import type { HeaderBag } from "../http/headers";
import { guardedStoreCall, isCircuitOpen } from "../http/storeGuard";
import type { StaleWindows } from "../http/freshness";
import { conditionalRequestHeaders, freshenedHeaders, type Validators } from "../http/revalidation";
import { acceptsEncoding, sameVariant } from "../http/vary";
import { decidePage, finalVerdict, type PageDecision, type StorablePage } from "./missPolicy";
import type { RequestTrace } from "../telemetry/events";
import { explainDecision } from "./debugHeader";
import { replyFromEntry, type Reply, type StoredTimes } from "./replies";
import type { ActionCacheSettings } from "./settings";
import { currentFlight, startFlight, waitFor, type Flight } from "./singleFlight";
import { learnVaryNames, variantOf, varyNamesOf, type Variant } from "./variants";

/** An entry past every window it may be served in, that the action can still confirm with a 304. */
interface Expired {
  stored: NonNullable<LookupResult["response"]>;
  validators: Validators;
}

type LookupOutcome =
  | { kind: "failed" }
  | { kind: "none"; expired?: Expired }
  | { kind: "fresh"; reply: Reply }
  | { kind: "stale"; reply: Reply; revalidate: boolean; expired?: Expired };

/** A conditional request the cache made of the action for a stale entry (RFC 9111 §4.3). */
interface Revalidation {
  stored: NonNullable<LookupResult["response"]>;
  /** The headers added to the request, and the native headers object they were added to. */
  added: Record<string, string>;
  nativeHeaders?: Record<string, string | string[] | undefined>;
}

/** What an entry's metadata holds (written by {@link CachePlan.commit}, read back on lookup). */
interface EntryMeta extends StoredTimes {
  /** The action that stored it: an entry is served only through that action. */
  action: string;
  /** Stored for requests with Authorization too (public / s-maxage, or cacheAuthorized). */
  shared: boolean;
  /** The request headers the response varies on, and the values it was computed for. */
  vary?: string[];
  varyValues?: Array<string | null>;
  /** The content coding of the stored bytes when the action encoded them itself. */
  encoding?: string;
  /** must-revalidate, proxy-revalidate or s-maxage: never served stale. */
  noStale?: boolean;
  /** The response's own stale windows, seconds (RFC 5861; the action's options apply besides). */
  ownStale?: Partial<StaleWindows>;
  /** The action's own ETag / Last-Modified: once stale, the entry is revalidated with them. */
  validators?: Validators;
}

/** One cacheable request: its key, tags, backend, what the lookup saw, and how its miss is stored. */
export class CachePlan {
  readonly surrogateKeys: string[];
  readonly authorizedRequest: boolean;
  /** A stale entry to send instead of an error (staleIfError). */
  staleFallback?: Reply;
  /** Set while someone listens on `custom-cache-page:request`. */
  trace?: RequestTrace;
  /** The debug header to explain this response in, when the request asked for it with the token. */
  debugHeader?: string;
  /** Where the hit came from: the in-process read or the store. */
  answeredFrom?: "memory" | "store";
  private variantKey!: string;
  /** The key single-flight and locks use: one computation per `keyFunc` result, whatever the variant. */
  private readonly flightKey: string;
  private token: unknown;
  private lookedUp = false;
  private lookupFailed = false;
  private flight?: Flight;
  private committing = false;
  private lockToken?: string;
  private page?: StorablePage;
  private revalidation?: Revalidation;
  /**
   * Headers already on the response before the action ran: set by outer middleware for this
   * request, not the page's. Taken only when the action is about to run (a hit never needs them).
   */
  presetHeaders: HeaderBag = {};
  /** Keeps the backend open while this request uses it (a configureCachePage that replaces it waits). */
  private releaseBackend?: () => void;

  constructor(
    readonly settings: ActionCacheSettings,
    readonly request: CacheRequest,
    /** The prefix and the `keyFunc` result: the entry's identity before variants. */
    readonly prefix: string | undefined,
    readonly key: string,
    readonly tags: TagRef[],
    readonly backend: BaseCacheBackend,
    /** This is our own background refresh: skip the entry, store the new response. */
    readonly refresh = false,
  ) {
    this.surrogateKeys = tagNames(tags);
    this.authorizedRequest = request.headers.authorization !== undefined;
    this.flightKey = buildStorageKey(prefix, key);
    this.select(variantOf(varyNamesOf(settings.memory, this.flightKey), request));
    this.releaseBackend = retainBackend(backend);
  }

  /** The versions of this request's tags the lookup saw, as `name:version,...` (when the backend tells them). */
  tagVersions(): string | undefined {
    const token = this.token;
    if (!token || typeof token !== "object" || Array.isArray(token)) return undefined;
    const pairs = Object.entries(token as Record<string, unknown>).filter(([, v]) => typeof v === "number" || typeof v === "string");
    return pairs.length > 0 ? pairs.map(([name, v]) => `${name}:${String(v)}`).join(",") : undefined;
  }

  /** This request is done with the backend. Idempotent. */
  endRequest(): void {
    const release = this.releaseBackend;
    this.releaseBackend = undefined;
    release?.();
  }

  /** The key this request's variant is stored under. */
  get storageKey(): string {
    return this.variantKey;
  }

  /** Makes `variant` the one this request reads and stores. */
  private select(variant: Variant): void {
    this.variantKey = variant.slot === undefined ? this.flightKey : buildStorageKey(this.prefix, this.key, variant.slot);
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
    if (found.kind !== "stale" || !found.revalidate) this.prepareRevalidation(found.expired);
    if (found.kind === "stale") {
      // A refresh runs in the background (or its response is being stored: its flight is still open).
      if (found.revalidate && (currentFlight(this.backend, this.flightKey) !== undefined || (refresh?.() ?? false))) return found.reply;
      this.staleFallback = found.reply;
    }
    if (this.request.method !== "GET") return undefined;
    const flight = currentFlight(this.backend, this.flightKey);
    if (flight) {
      await waitFor(flight, this.settings.flightWaitMs);
      // The leader may have learned what the action varies on: look up this request's variant.
      this.select(variantOf(varyNamesOf(this.settings.memory, this.flightKey), this.request));
      const again = await this.read(Date.now());
      return again.kind === "fresh" ? again.reply : undefined;
    }
    this.lead();
    return this.settings.lock ? this.waitForOtherProcesses(this.settings.lock) : undefined;
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
    if (found.kind !== "fresh") return undefined;
    this.answeredFrom = "memory";
    return found.reply;
  }

  /**
   * Ends this request's part in single-flight (if it led one), unless its page waits to be stored
   * once it has left, or is being stored: then {@link onLeft} or the commit settles it.
   */
  release(): void {
    if (!this.committing && !this.page) this.settleFlight();
  }

  /** The response will never finish (the client went away): nothing is stored, waiters are released. */
  abandon(): void {
    this.restoreRequest();
    if (this.page) this.trace?.finish("miss", { stored: false, reason: "the response did not complete" });
    this.page = undefined;
    if (!this.committing) this.settleFlight();
  }

  private settleFlight(): void {
    this.endRequest();
    this.flight?.settle();
    const token = this.lockToken;
    if (token === undefined) return;
    this.lockToken = undefined;
    void this.backend.releaseLock(this.lockName(), token).catch(() => undefined);
  }

  private lead(): undefined {
    if (this.request.method === "GET") this.flight = startFlight(this.backend, this.flightKey);
    return undefined;
  }

  private lockName(): string {
    return `lock:${this.flightKey}`;
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

  private async read(now: number): Promise<LookupOutcome> {
    let result: LookupResult;
    try {
      result = await guardedStoreCall(this.backend, "lookup", () => this.backend.lookup(this.storageKey, this.tags));
    } catch (error) {
      this.lookupFailed = true;
      reportProblem(
        `lookup:${this.backend.constructor.name}`,
        `cache lookup failed on ${this.backend.constructor.name}; requests run uncached: ${error instanceof Error ? error.message : String(error)}`,
        error,
        "error",
      );
      return { kind: "failed" };
    }
    this.token = result.token;
    this.answeredFrom = "store";
    return this.classify(result, now);
  }

  /** Whether a stored entry answers this request, and how: only its own action's, its own variant's, in an encoding the client accepts. */
  private classify(result: LookupResult, now: number): LookupOutcome {
    const stored = result.response;
    if (!stored || this.refresh) return { kind: "none" };
    const meta = (result.metadata ?? {}) as Partial<EntryMeta>;
    if (meta.action !== this.settings.identity) return { kind: "none" };
    if (meta.vary && meta.vary.length > 0) {
      const mine = variantOf(meta.vary, this.request);
      if (!meta.varyValues || !sameVariant(mine.values, meta.varyValues)) return { kind: "none" };
    }
    if (meta.encoding && !acceptsEncoding(this.request.headers["accept-encoding"], meta.encoding)) return { kind: "none" };
    if (this.authorizedRequest && !this.settings.cacheAuthorized && meta.shared !== true) return { kind: "none" };
    if (typeof meta.storedAt !== "number" || typeof meta.freshUntil !== "number") return { kind: "none" };
    const times: StoredTimes = { storedAt: meta.storedAt, freshUntil: meta.freshUntil, initialAge: typeof meta.initialAge === "number" ? meta.initialAge : 0 };
    if (result.staleSince !== undefined) {
      // Invalidated softly: STALE while one refresh runs, within staleWhileRevalidate of the invalidation.
      const window = this.settings.staleWhileRevalidate * 1000;
      if (meta.noStale || now - result.staleSince > window || now - times.freshUntil > window) return { kind: "none" };
      return { kind: "stale", reply: this.replyFor(stored, times, now, "STALE"), revalidate: true };
    }
    if (now < times.freshUntil) return { kind: "fresh", reply: this.replyFor(stored, times, now, "HIT") };
    const expired = meta.validators && typeof meta.validators === "object" ? { stored, validators: meta.validators } : undefined;
    if (meta.noStale) return { kind: "none", expired };
    const staleFor = now - times.freshUntil;
    const windows = this.staleWindows(meta);
    if (staleFor <= windows.whileRevalidate * 1000) return { kind: "stale", reply: this.replyFor(stored, times, now, "STALE"), revalidate: true };
    if (staleFor <= windows.ifError * 1000) return { kind: "stale", reply: this.replyFor(stored, times, now, "STALE"), revalidate: false, expired };
    return { kind: "none", expired };
  }

  /** How long past its freshness an entry may be served stale: the action's windows or the response's own, the larger. */
  private staleWindows(meta: Pick<EntryMeta, "ownStale">): StaleWindows {
    const own = meta.ownStale;
    const seconds = (value: unknown) => (typeof value === "number" && value > 0 ? value : 0);
    return {
      whileRevalidate: Math.max(this.settings.staleWhileRevalidate, seconds(own?.whileRevalidate)),
      ifError: Math.max(this.settings.staleIfError, seconds(own?.ifError)),
    };
  }

  private replyFor(stored: NonNullable<LookupResult["response"]>, times: StoredTimes, now: number, label: "HIT" | "STALE"): Reply {
    return replyFromEntry(this.backend, this.surrogateKeys, this.request.headers, stored, times, now, label);
  }

  /**
   * A stale entry with validators: the action will be asked conditionally (GET only, and only when
   * the client's own request is neither conditional nor partial).
   */
  private prepareRevalidation(expired: Expired | undefined): void {
    this.revalidation = undefined;
    if (!expired || this.request.method !== "GET") return;
    const added = conditionalRequestHeaders(expired.validators, this.request.headers);
    if (added) this.revalidation = { stored: expired.stored, added };
  }

  /**
   * Adds the conditional headers to the native request just before the action runs, so that the
   * action (Express' `res.send` does it by itself) can answer 304 when the stored copy is still
   * good. They are taken out again as soon as the response reaches the cache's layer: nothing
   * outside the action ever sees them.
   */
  beginRevalidation(nativeHeaders: Record<string, string | string[] | undefined>): void {
    const revalidation = this.revalidation;
    if (!revalidation || revalidation.nativeHeaders) return;
    revalidation.nativeHeaders = nativeHeaders;
    Object.assign(nativeHeaders, revalidation.added);
  }

  private restoreRequest(): void {
    const native = this.revalidation?.nativeHeaders;
    if (!native) return;
    for (const name of Object.keys(this.revalidation!.added)) delete native[name];
    this.revalidation!.nativeHeaders = undefined;
  }

  /**
   * Called when the miss's response is about to leave the cache's layer (its headers as the action
   * and inner middleware set them; `body` the whole body when known then, undefined when streamed).
   * Says which headers to add and whether to record the body; the final word comes from
   * {@link onLeft}, once the headers really left.
   */
  onPage(status: number, headers: HeaderBag, body: Buffer | undefined, markedDoNotCache: boolean, declaredLength?: number): PageDecision {
    const asked = this.revalidation?.nativeHeaders !== undefined;
    this.restoreRequest();
    const stored = this.revalidation?.stored;
    this.revalidation = undefined;
    // The action confirmed the stale copy: the response is that copy, freshened by the 304's headers.
    const substitute =
      asked && stored && status === 304 ? { status: stored.status, headers: freshenedHeaders(stored.headers, headers), body: stored.body } : undefined;
    const decision = decidePage(this, {
      status: substitute?.status ?? status,
      headers: substitute?.headers ?? headers,
      body: substitute?.body ?? body,
      declaredLength: substitute ? undefined : declaredLength,
      markedDoNotCache,
      lookedUp: this.lookedUp,
      lookupFailed: this.lookupFailed,
      now: Date.now(),
      revalidated: substitute !== undefined,
    });
    if (substitute && !decision.replaceWith) decision.substitute = substitute;
    if (this.debugHeader && !decision.replaceWith) {
      decision.headers[this.debugHeader] = explainDecision(this, decision.page ? "miss" : (decision.label ?? "bypass").toLowerCase(), {
        reason: decision.page
          ? "storable here; stored unless a middleware around the cache adds Set-Cookie, private or Vary: * on the way out"
          : decision.reason,
      });
    }
    this.page = decision.page;
    const trace = this.trace;
    if (trace) {
      trace.actionEnded();
      if (decision.replaceWith) trace.finish("stale", { reason: decision.reason });
      else if (!decision.page) trace.finish(decision.label === "MISS" ? "miss" : "bypass", { reason: decision.reason, stored: false });
    }
    if (!decision.page) this.release();
    return decision;
  }

  /**
   * Called once the response has left, with the headers every middleware finally sent and the
   * body bytes the cache recorded: stores the page unless what left forbids it (a session cookie,
   * `private`, `Vary: *` added on the way out), then releases requests waiting for this key.
   */
  onLeft(finalHeaders: HeaderBag, body: Buffer): Promise<void> {
    const page = this.page;
    this.page = undefined;
    const verdict = page && this.lookedUp ? finalVerdict(page, finalHeaders) : undefined;
    if (!page || !verdict?.store) {
      this.trace?.finish("miss", { stored: false, reason: verdict && !verdict.store ? verdict.reason : undefined });
      this.release();
      return Promise.resolve();
    }
    this.trace?.finish("miss", { stored: true });
    learnVaryNames(this.settings.memory, this.flightKey, verdict.varyNames);
    const variant = variantOf(verdict.varyNames, this.request);
    this.select(variant);
    const meta: EntryMeta = {
      action: this.settings.identity,
      storedAt: page.storedAt,
      freshUntil: page.storedAt + page.freshSeconds * 1000,
      initialAge: page.initialAge,
      shared: page.shared,
      ...(variant.names.length > 0 ? { vary: [...variant.names], varyValues: variant.values } : {}),
      ...(page.encoding ? { encoding: page.encoding } : {}),
      ...(page.noStale ? { noStale: true } : {}),
      ...(page.ownStale ? { ownStale: page.ownStale } : {}),
      ...(page.validators ? { validators: page.validators } : {}),
    };
    // A streamed body's ETag can only be computed now; the miss went out without one, hits carry it.
    if (page.headers.etag === undefined) page.headers.etag = strongEtag(body);
    return this.commit({ status: page.status, headers: page.headers, body }, page.freshSeconds, page.timeout, meta);
  }

  /**
   * Stores the miss (in the background: the client never waits for the store). The entry lives
   * its fresh time plus the stale windows (with validators: at least `timeout`); requests waiting
   * on this key are released once it is stored.
   */
  private commit(
    response: { status: number; headers: Record<string, string | string[]>; body: Buffer },
    freshSeconds: number,
    timeout: number,
    meta: EntryMeta,
  ): Promise<void> {
    // From here the flight settles when the entry is stored, so waiters find it.
    this.committing = true;
    const windows = this.staleWindows(meta);
    const staleWindow = meta.noStale ? 0 : Math.max(windows.whileRevalidate, windows.ifError);
    // An entry the action can confirm with a 304 is kept for the action's whole timeout, also
    // once its own (shorter) lifetime ran out: then it is revalidated instead of computed again.
    const kept = meta.validators ? timeout : 0;
    const entry = {
      key: this.storageKey,
      response,
      timeout: Math.max(Math.ceil(freshSeconds + staleWindow), kept),
      surrogateKeys: this.surrogateKeys,
      tags: this.tags,
      token: this.token,
      metadata: meta as unknown as Record<string, unknown>,
    };
    return guardedStoreCall(this.backend, "set", () => this.backend.set(entry))
      .catch((error) => {
        reportProblem(
          `set:${this.backend.constructor.name}`,
          `storing a response failed on ${this.backend.constructor.name}: ${error instanceof Error ? error.message : String(error)}`,
          error,
          "error",
        );
      })
      .finally(() => this.settleFlight());
  }
}

const namesOf = new WeakMap<readonly TagRef[], string[]>();

/** The tag names, computed once per (static) tag list. */
function tagNames(tags: readonly TagRef[]): string[] {
  let names = namesOf.get(tags);
  if (!names) namesOf.set(tags, (names = tags.map((t) => t.name)));
  return names;
}
