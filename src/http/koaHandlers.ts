import { getHttpSettings } from "../config/configure";
import { finishKoaMiss, koaCacheRequest, koaMarkedDoNotCache, sendKoaReply, type KoaLikeContext } from "./koa";
import { refreshInBackground } from "./backgroundRefresh";
import { decide, type ActionCacheSettings, type CachePlan } from "./pageCache";
import { attachPlan, planOf, type PlanSlot } from "./planSlot";

function refresher(plan: CachePlan, ctx: KoaLikeContext): () => boolean {
  return () => refreshInBackground(plan.backend, plan.storageKey, plan.request, ctx.req?.socket);
}

/**
 * Our per-action Koa middleware: answers hits at once for unguarded actions, and after the rest
 * of the chain has run, captures the miss (status, headers, body as Koa will send them).
 */
export async function koaBeforeAction(settings: ActionCacheSettings, guarded: boolean, ctx: KoaLikeContext, next: () => Promise<unknown>): Promise<void> {
  const request = koaCacheRequest(ctx);
  const decision = decide(settings, request, koaMarkedDoNotCache(ctx));
  if (decision.kind === "pass") {
    await next();
    return;
  }
  if (decision.kind === "bypass") {
    await next();
    const header = getHttpSettings().cacheStatusHeader;
    if (header) ctx.set(header, "BYPASS");
    return;
  }
  const { plan } = decision;
  const slot: PlanSlot = { plan, lateLookup: guarded, served: false };
  if (guarded) attachPlan(ctx, slot);
  else {
    // An in-memory hit is answered without a single await.
    const immediate = plan.lookupNow();
    if (immediate) {
      sendKoaReply(ctx, immediate);
      return;
    }
  }
  try {
    if (!guarded) {
      const reply = await plan.lookup(refresher(plan, ctx));
      if (reply) {
        sendKoaReply(ctx, reply);
        return;
      }
    }
    try {
      await next();
    } catch (error) {
      // An error nobody turned into a response: staleIfError still answers with the stale entry.
      if (!plan.staleFallback || slot.served) throw error;
      sendKoaReply(ctx, plan.staleFallback);
      return;
    }
    finish(plan, slot, ctx);
  } finally {
    plan.release();
  }
}

function finish(plan: CachePlan, slot: PlanSlot, ctx: KoaLikeContext): void {
  if (slot.served) {
    // Interceptors ran on the value the wrapper returned and may have changed the body: the hit
    // is put back so the client gets exactly the cached response.
    if (slot.reply) sendKoaReply(ctx, slot.reply);
    return;
  }
  finishKoaMiss(plan, ctx);
}

/** Runs inside the action wrapper on Koa: answers the hit of a guarded action after the checks. */
export async function koaAroundAction(ctx: KoaLikeContext, run: () => unknown): Promise<unknown> {
  const slot = planOf(ctx);
  if (!slot || !slot.lateLookup || slot.served) return run();
  slot.lateLookup = false;
  // A middleware that ran after ours may have set doNotCache: then no hit is served.
  const reply = koaMarkedDoNotCache(ctx) ? undefined : await slot.plan.lookup(refresher(slot.plan, ctx));
  if (!reply) return run();
  slot.served = true;
  slot.reply = reply;
  sendKoaReply(ctx, reply);
  return ctx; // routing-controllers treats "returned the context" as "already handled"
}
