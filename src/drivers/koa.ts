import type { Socket } from "node:net";
import type { ServerResponse } from "node:http";
import { isMarkedDoNotCache } from "../engine/cacheRequest";
import type { CachePlan } from "../engine/cachePlan";
import type { Reply } from "../engine/replies";
import { lookUpLate, openRequest, type DriverRequest } from "../engine/requestFlow";
import { attachSlot, slotOf, type RequestSlot } from "../engine/requestSlot";
import type { ActionCacheSettings } from "../engine/settings";
import { currentUserCheckerOf } from "./routingControllers";

/** The parts of a Koa context the cache reads and writes. */
export interface KoaLikeContext {
  app?: unknown;
  method: string;
  originalUrl?: string;
  url: string;
  /** The host as Koa reads it: `X-Forwarded-Host` only when `app.proxy` is set. */
  host?: string;
  params?: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  state?: { user?: unknown };
  request: object;
  response: { headers: Record<string, string | string[] | number | undefined> };
  req: { socket?: Socket; rawHeaders?: string[] };
  res: ServerResponse;
  status: number;
  body: unknown;
  set(name: string, value: string | string[]): void;
  remove(name: string): void;
}

function driverRequest(ctx: KoaLikeContext, next: () => Promise<unknown>): DriverRequest {
  return {
    view: { method: ctx.method, url: ctx.originalUrl ?? ctx.url, params: ctx.params, headers: ctx.headers, host: ctx.host ?? "", raw: ctx },
    marks: [ctx, ctx.request],
    nativeHeaders: ctx.headers,
    rawHeaders: ctx.req.rawHeaders,
    presetHeaders: () => ({ ...ctx.response.headers }),
    hasUserChecker: () => currentUserCheckerOf(ctx.app) !== undefined,
    nativeUser: () => ctx.state?.user,
    resolveUser: async () => currentUserCheckerOf(ctx.app)!({ request: ctx.request, response: ctx.response, context: ctx, next } as never),
    socket: () => ctx.req.socket,
  };
}

function marked(ctx: KoaLikeContext, plan?: CachePlan): boolean {
  return isMarkedDoNotCache(ctx, ctx.request, plan?.request);
}

/**
 * The cache's per-action Koa middleware: answers hits at once for unguarded actions, and after the
 * rest of the chain has run, captures the miss (status, headers, body as Koa will send them). The
 * store decision waits until the response has left, after every middleware around the cache
 * (koa-session, koa-compress...) had its say.
 */
export async function koaBeforeAction(settings: ActionCacheSettings, guarded: boolean, ctx: KoaLikeContext, next: () => Promise<unknown>): Promise<void> {
  const opening = await openRequest(settings, guarded, driverRequest(ctx, next));
  if (opening.kind === "pass") {
    await next();
    return;
  }
  if (opening.kind === "bypass") {
    await next();
    for (const [name, value] of Object.entries(opening.headers)) ctx.set(name, value);
    return;
  }
  if (opening.kind === "reply") {
    sendKoaReply(ctx, opening.reply);
    return;
  }
  const { plan } = opening;
  const slot: RequestSlot = { plan, late: opening.late, answered: false };
  attachSlot(ctx, slot);
  try {
    try {
      await next();
    } catch (error) {
      // An error nobody turned into a response: staleIfError still answers with the stale entry.
      if (!plan.staleFallback || slot.answered) throw error;
      sendKoaReply(ctx, plan.staleFallback);
      return;
    }
    if (slot.answered) {
      // Interceptors ran on the value the wrapper returned and may have changed the body: the hit
      // is put back so the client gets exactly the cached response.
      if (slot.reply) sendKoaReply(ctx, slot.reply);
      return;
    }
    finishKoaMiss(plan, ctx);
  } finally {
    plan.release();
  }
}

/** Runs inside the action wrapper on Koa: answers the hit of a guarded action after the checks. */
export async function koaAroundAction(ctx: KoaLikeContext, run: () => unknown): Promise<unknown> {
  const slot = slotOf(ctx);
  if (!slot?.late || slot.answered) return run();
  slot.late = false;
  const reply = await lookUpLate(slot.plan, { socket: () => ctx.req.socket, nativeHeaders: ctx.headers }, marked(ctx));
  if (!reply) return run();
  slot.answered = true;
  slot.reply = reply;
  sendKoaReply(ctx, reply);
  return ctx; // routing-controllers treats "returned the context" as "already handled"
}

/** Puts a reply (hit or 304) on a Koa context. */
export function sendKoaReply(ctx: KoaLikeContext, reply: Reply): void {
  for (const [name, value] of Object.entries(reply.headers)) {
    if (name !== "content-length") ctx.set(name, value);
  }
  for (const [name, value] of Object.entries(reply.extra)) ctx.set(name, value);
  // Assigning the body lets Koa compute Content-Length; the status goes last because assigning a
  // body resets an implicit status to 200.
  ctx.body = reply.body ?? null;
  ctx.status = reply.status;
}

/**
 * After the action and routing-controllers have set status, headers and body on the context:
 * serialises the body as Koa will, asks the plan what to add, pins the body to the exact bytes
 * that may be stored, and hands the plan the headers that really left once the response finished.
 * Streams are passed through, not stored.
 */
function finishKoaMiss(plan: CachePlan, ctx: KoaLikeContext): void {
  const body = koaBodyBytes(ctx.body);
  const decision = plan.onPage(ctx.status, ctx.response.headers, body, marked(ctx, plan));
  if (decision.replaceWith) {
    // staleIfError: the action failed; the client gets the stale entry instead of the error.
    for (const name of Object.keys(ctx.response.headers)) ctx.remove(name);
    sendKoaReply(ctx, decision.replaceWith);
    return;
  }
  const substitute = decision.substitute;
  if (substitute) {
    // The action's 304 confirmed the stored copy: the client, which asked unconditionally, gets it.
    for (const [name, value] of Object.entries(substitute.headers)) ctx.set(name, value);
    ctx.body = substitute.body;
    ctx.status = substitute.status;
  }
  for (const name of decision.remove) ctx.remove(name);
  for (const [name, value] of Object.entries(decision.headers)) ctx.set(name, value);
  const sent = substitute?.body ?? body;
  if (!decision.page || sent === undefined) return;
  if (!Buffer.isBuffer(ctx.body) && ctx.body !== null && ctx.body !== undefined) {
    const status = ctx.status;
    ctx.body = sent;
    ctx.status = status;
  }
  const res = ctx.res;
  const onFinish = () => {
    res.off("close", onClose);
    void plan.onLeft(res.getHeaders(), sent);
  };
  const onClose = () => {
    res.off("finish", onFinish);
    plan.abandon();
  };
  res.once("finish", onFinish);
  res.once("close", onClose);
}

/** The bytes Koa will send for a body, or undefined for a stream (unknown length). */
export function koaBodyBytes(body: unknown): Buffer | undefined {
  if (body === null || body === undefined) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof Uint8Array) return Buffer.from(body);
  // Node streams, web streams, Blobs, Responses: their length is not known up front.
  const b = body as { pipe?: unknown; getReader?: unknown; arrayBuffer?: unknown };
  if (typeof b.pipe === "function" || typeof b.getReader === "function" || typeof b.arrayBuffer === "function") return undefined;
  if (typeof body === "object") return Buffer.from(JSON.stringify(body), "utf8");
  return Buffer.from(String(body), "utf8");
}
