import type { ServerResponse } from "node:http";
import { getHttpSettings } from "../config/configure";
import { isMarkedDoNotCache } from "./CacheRequest";
import { captureExpressResponse, expressCacheRequest, sendExpressReply, type ExpressLikeRequest } from "./express";
import { refreshInBackground } from "./backgroundRefresh";
import { decide, type ActionCacheSettings, type CachePlan } from "./pageCache";
import { attachPlan, planOf } from "./planSlot";

type Next = (error?: unknown) => void;

function refresher(plan: CachePlan, req: ExpressLikeRequest): () => boolean {
  return () => refreshInBackground(plan.backend, plan.storageKey, plan.request, req.socket);
}

/**
 * Our per-action Express middleware. Answers hits at once for unguarded actions (the fast path);
 * for guarded ones it only prepares the plan and the action wrapper answers after the checks.
 */
export function expressBeforeAction(settings: ActionCacheSettings, guarded: boolean, req: ExpressLikeRequest, res: ServerResponse, next: Next): void {
  const request = expressCacheRequest(req);
  const decision = decide(settings, request, isMarkedDoNotCache(req));
  if (decision.kind === "pass") return next();
  if (decision.kind === "bypass") {
    const header = getHttpSettings().cacheStatusHeader;
    if (header) res.setHeader(header, "BYPASS");
    return next();
  }
  const { plan } = decision;
  if (guarded) {
    attachPlan(req, { plan, lateLookup: true });
    return next();
  }
  // An in-memory hit is answered without a single await, like a plain middleware would.
  const immediate = plan.lookupNow();
  if (immediate) return sendExpressReply(res, immediate);
  plan.lookup(refresher(plan, req)).then(
    (reply) => {
      if (reply) return sendExpressReply(res, reply);
      captureExpressResponse(plan, req, res);
      next();
    },
    () => next(), // lookup never rejects; this is only a seat belt
  );
}

/**
 * Runs inside the action wrapper, after routing-controllers' authorization and parameter checks.
 * Answers the hit for guarded actions; else installs the capture and runs the action.
 */
export async function expressAroundAction(req: object, res: ServerResponse, run: () => unknown): Promise<unknown> {
  const slot = planOf(req);
  if (!slot || !slot.lateLookup || slot.served) return run();
  slot.lateLookup = false;
  // A middleware that ran after ours may have set doNotCache: then no hit is served.
  const reply = isMarkedDoNotCache(req) ? undefined : await slot.plan.lookup(refresher(slot.plan, req as ExpressLikeRequest));
  if (reply) {
    slot.served = true;
    sendExpressReply(res, reply);
    // The response is complete. A promise that never settles keeps routing-controllers from
    // handing anything to interceptors or writing again (an interceptor given `res` as the
    // action's result would otherwise crash with "headers already sent"); nothing refers to it,
    // so it is collected. As on the fast path, interceptors and after-middlewares do not run on a hit.
    return new Promise<never>(() => undefined);
  }
  captureExpressResponse(slot.plan, req, res);
  return run();
}
