import type { Socket } from "node:net";
import { reportProblem } from "../logger";
import type { CacheRequest } from "../model";
import type { HeaderBag } from "../http/headers";
import { refreshInBackground, takeRefreshMarker } from "./backgroundRefresh";
import { buildCacheRequest, isMarkedDoNotCache, type NativeRequestView, type UserSource } from "./cacheRequest";
import type { CachePlan } from "./cachePlan";
import { decide, type RequestDecision } from "./decision";
import { statusHeaders, type Reply } from "./replies";
import type { ActionCacheSettings } from "./settings";
import { debugHeaderFor, explainDecision } from "./debugHeader";
import { traceRequest, type RequestTrace } from "../telemetry/events";

/**
 * What the engine needs from a framework driver about one request. A driver only reads the
 * request and writes the response; every decision is the engine's.
 */
export interface DriverRequest {
  view: NativeRequestView;
  /** The native objects `doNotCache` marks (Express `req`; Koa `ctx` and `ctx.request`). */
  marks: object[];
  /** The native headers object and raw header list, from which the refresh marker is removed. */
  nativeHeaders: Record<string, string | string[] | undefined>;
  rawHeaders?: string[];
  /** Headers already on the response: outer middleware set them for this request (read before the action runs). */
  presetHeaders(): HeaderBag;
  /** True when the app has a `currentUserChecker` (then the user must be asked for). */
  hasUserChecker(): boolean;
  /** The user without a checker: `req.user` / `ctx.state.user`. */
  nativeUser(): unknown;
  /** Asks routing-controllers' `currentUserChecker`. */
  resolveUser(): Promise<unknown>;
  /** The socket the request came on (the background refresh goes back through it). */
  socket(): Socket | undefined;
}

/** How a request to a cached action opens. */
export type Opening =
  | { kind: "pass" }
  /** Run uncached; these headers say so. */
  | { kind: "bypass"; headers: Record<string, string> }
  /** Answer from the cache. */
  | { kind: "reply"; reply: Reply }
  /** Run the action and capture its response; `late`: look up first, after routing-controllers' checks. */
  | { kind: "run"; plan: CachePlan; late: boolean };

/**
 * Opens a request: decides whether the cache takes part and, for unguarded actions, answers a hit
 * at once (synchronously when the store is in memory, so a hit costs what a plain middleware
 * costs). Guarded actions are looked up later, by {@link lookUpLate}, after `@Authorized` and
 * `@CurrentUser` checks ran. Never rejects.
 */
export function openRequest(settings: ActionCacheSettings, guarded: boolean, driver: DriverRequest): Opening | Promise<Opening> {
  const trace = traceRequest(settings.identity, driver.view.method.toUpperCase());
  const refresh = takeRefreshMarker(driver.nativeHeaders, driver.rawHeaders);
  const debug = debugHeaderFor(driver.view.headers);
  const native = { marked: isMarkedDoNotCache(...driver.marks), refresh };
  const needsUser = driver.hasUserChecker();
  const source: UserSource = needsUser ? { resolved: false } : { resolved: true, user: driver.nativeUser() };
  const request = buildCacheRequest(driver.view, source, driver.marks);
  const context: OpeningContext = { guarded, driver, trace, debug };
  if (needsUser && settings.memory.readsUser) return withUser(settings, request, native, context);
  const decision = decide(settings, request, native);
  if (decision.kind === "needs-user") return withUser(settings, request, native, context);
  return opened(decision, context);
}

/** What an opening carries besides the decision. */
interface OpeningContext {
  guarded: boolean;
  driver: DriverRequest;
  trace: RequestTrace | undefined;
  /** The debug header's name, when the request asked for it with the token. */
  debug: string | undefined;
}

async function withUser(settings: ActionCacheSettings, request: CacheRequest, native: Parameters<typeof decide>[2], context: OpeningContext): Promise<Opening> {
  try {
    request.user = await context.driver.resolveUser();
  } catch (error) {
    const reason = `@CachePage on ${settings.where}: currentUserChecker threw; the request ran uncached`;
    reportProblem(`user:${settings.where}`, reason, error);
    return bypassOf(reason, context);
  }
  return opened(decide(settings, request, native), context);
}

function opened(decision: RequestDecision, context: OpeningContext): Opening | Promise<Opening> {
  const { guarded, driver, trace } = context;
  if (decision.kind === "pass") {
    trace?.finish("pass");
    return decision;
  }
  if (decision.kind === "bypass") return bypassOf(decision.reason, context);
  if (decision.kind === "needs-user") return bypassOf("the current user could not be resolved", context);
  const { plan } = decision;
  plan.trace = trace;
  plan.debugHeader = context.debug;
  if (guarded) {
    // The action may run after the checks: what outer middleware set so far is the request's.
    plan.presetHeaders = driver.presetHeaders();
    return { kind: "run", plan, late: true };
  }
  const immediate = plan.lookupNow();
  if (immediate) return answered(plan, immediate);
  return plan.lookup(refresher(plan, driver)).then(
    (reply): Opening => (reply ? answered(plan, reply) : running(plan, driver)),
    (): Opening => running(plan, driver), // lookup never rejects; this is only a seat belt
  );
}

function answered(plan: CachePlan, reply: Reply): Opening {
  plan.trace?.finish(reply.label === "STALE" ? "stale" : "hit");
  explainHit(plan, reply);
  plan.endRequest();
  return { kind: "reply", reply };
}

/** Adds the debug header to a hit (its `extra` headers are this reply's own). */
function explainHit(plan: CachePlan, reply: Reply): void {
  if (plan.debugHeader) reply.extra[plan.debugHeader] = explainDecision(plan, reply.label === "STALE" ? "stale" : "hit", { store: plan.answeredFrom });
}

function running(plan: CachePlan, driver: DriverRequest): Opening {
  plan.presetHeaders = driver.presetHeaders();
  plan.beginRevalidation(driver.nativeHeaders);
  plan.trace?.actionStarts();
  return { kind: "run", plan, late: false };
}

function bypassOf(reason: string, context: Pick<OpeningContext, "trace" | "debug">): Opening {
  context.trace?.finish("bypass", { reason });
  const headers = statusHeaders("BYPASS", { kind: "bypass", detail: reason });
  if (context.debug) headers[context.debug] = explainDecision(undefined, "bypass", { reason });
  return { kind: "bypass", headers };
}

/**
 * The lookup of a guarded action, run inside the action wrapper once routing-controllers'
 * checks passed: the hit to send, or undefined when the action runs. A middleware that ran after
 * the cache's may have called `doNotCache`: then no hit is served.
 */
export async function lookUpLate(plan: CachePlan, driver: Pick<DriverRequest, "socket" | "nativeHeaders">, marked: boolean): Promise<Reply | undefined> {
  const reply = marked ? undefined : await plan.lookup(refresher(plan, driver));
  if (reply) {
    plan.trace?.finish(reply.label === "STALE" ? "stale" : "hit");
    explainHit(plan, reply);
    plan.endRequest();
  } else {
    plan.beginRevalidation(driver.nativeHeaders);
    plan.trace?.actionStarts();
  }
  return reply;
}

function refresher(plan: CachePlan, driver: Pick<DriverRequest, "socket">): () => boolean {
  return () => refreshInBackground(plan.backend, plan.storageKey, plan.request, driver.socket());
}
