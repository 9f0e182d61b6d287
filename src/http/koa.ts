import { buildCacheRequest, isMarkedDoNotCache, type CacheRequest } from "./CacheRequest";
import type { CachePlan, Reply } from "./pageCache";

/** The parts of a Koa context the cache reads and writes. */
export interface KoaLikeContext {
  method: string;
  originalUrl?: string;
  url: string;
  params?: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  state?: { user?: unknown };
  request: object;
  req: { socket?: import("node:net").Socket };
  status: number;
  body: unknown;
  response: { headers: Record<string, string | string[] | number | undefined> };
  set(name: string, value: string | string[]): void;
  remove(name: string): void;
}

/** The framework-neutral view of a Koa request. */
export function koaCacheRequest(ctx: KoaLikeContext): CacheRequest {
  return buildCacheRequest(
    { method: ctx.method, url: ctx.originalUrl ?? ctx.url, params: ctx.params, headers: ctx.headers, user: ctx.state?.user, raw: ctx },
    [ctx, ctx.request],
  );
}

/** True when `doNotCache` was set on the context, its request, or the CacheRequest. */
export function koaMarkedDoNotCache(ctx: KoaLikeContext, request?: CacheRequest): boolean {
  return isMarkedDoNotCache(ctx, ctx.request, request);
}

/** Puts a reply (hit or 304) on a Koa context. */
export function sendKoaReply(ctx: KoaLikeContext, reply: Reply): void {
  for (const [name, value] of Object.entries(reply.headers)) {
    if (name !== "content-length") ctx.set(name, value);
  }
  if (reply.age !== undefined) ctx.set("age", reply.age);
  // Assigning the body lets Koa compute Content-Length; the status goes last because assigning a
  // body resets an implicit status to 200.
  ctx.body = reply.body ?? null;
  ctx.status = reply.status;
}

/**
 * After the action and routing-controllers have set status, headers and body on the context:
 * serialises the body as Koa will, asks the plan whether to store, adds the cache headers and
 * pins the body to the exact bytes stored. Streams are passed through, not stored.
 */
export function finishKoaMiss(plan: CachePlan, ctx: KoaLikeContext): void {
  const body = koaBodyBytes(ctx.body);
  const decision = plan.onMissHeaders(ctx.status, ctx.response.headers, body, koaMarkedDoNotCache(ctx, plan.request));
  if (decision.replaceWith) {
    // staleIfError: the action failed; the client gets the stale entry instead of the error.
    for (const name of Object.keys(ctx.response.headers)) ctx.remove(name);
    sendKoaReply(ctx, decision.replaceWith);
    return;
  }
  for (const name of decision.remove) ctx.remove(name);
  for (const [name, value] of Object.entries(decision.headers)) ctx.set(name, value);
  if (!decision.store || body === undefined) return;
  if (!Buffer.isBuffer(ctx.body) && ctx.body !== null && ctx.body !== undefined) {
    const status = ctx.status;
    ctx.body = body;
    ctx.status = status;
  }
  void plan.commit(ctx.status, ctx.response.headers, body, decision.timeout);
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
