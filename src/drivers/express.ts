import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { isMarkedDoNotCache } from "../engine/cacheRequest";
import type { CachePlan } from "../engine/cachePlan";
import type { PageDecision } from "../engine/missPolicy";
import type { Reply } from "../engine/replies";
import { lookUpLate, openRequest, type DriverRequest, type Opening } from "../engine/requestFlow";
import { attachSlot, slotOf, type RequestSlot } from "../engine/requestSlot";
import type { ActionCacheSettings } from "../engine/settings";
import { currentUserCheckerOf } from "./routingControllers";

/** The parts of an Express request the cache reads. */
export interface ExpressLikeRequest {
  method: string;
  originalUrl?: string;
  url: string;
  params?: Record<string, string>;
  headers: IncomingHttpHeaders;
  rawHeaders?: string[];
  user?: unknown;
  socket?: Socket;
  app?: { get?(name: string): unknown };
}

type Next = (error?: unknown) => void;
type TrustFn = (address: string | undefined, hop: number) => boolean;

/** The host the client asked for: `Host`, or the first `X-Forwarded-Host` when the app trusts the proxy it came through. */
function hostOf(req: ExpressLikeRequest): string {
  const forwarded = req.headers["x-forwarded-host"];
  if (typeof forwarded === "string" && forwarded !== "") {
    const trust = req.app?.get?.("trust proxy fn") as TrustFn | undefined;
    if (typeof trust === "function" && trust(req.socket?.remoteAddress, 0)) return forwarded.split(",")[0]!.trim();
  }
  return req.headers.host ?? "";
}

/**
 * What the engine reads of one Express request. A class rather than an object of closures: one
 * allocation per request on the hit path instead of seven.
 */
class ExpressDriverRequest implements DriverRequest {
  readonly view: DriverRequest["view"];
  readonly marks: object[];
  readonly nativeHeaders: DriverRequest["nativeHeaders"];
  readonly rawHeaders: string[] | undefined;

  constructor(
    private readonly req: ExpressLikeRequest,
    private readonly res: ServerResponse,
    private readonly next: Next,
  ) {
    this.view = { method: req.method, url: req.originalUrl ?? req.url, params: req.params, headers: req.headers, host: hostOf(req), raw: req };
    this.marks = [req];
    this.nativeHeaders = req.headers;
    this.rawHeaders = req.rawHeaders;
  }

  presetHeaders(): ReturnType<DriverRequest["presetHeaders"]> {
    return this.res.getHeaders();
  }

  hasUserChecker(): boolean {
    return currentUserCheckerOf(this.req.app) !== undefined;
  }

  nativeUser(): unknown {
    return this.req.user;
  }

  async resolveUser(): Promise<unknown> {
    return currentUserCheckerOf(this.req.app)!({ request: this.req, response: this.res, next: this.next });
  }

  socket(): Socket | undefined {
    return this.req.socket;
  }
}

/**
 * The cache's per-action Express middleware. Answers hits at once for unguarded actions (the
 * fast path); for guarded ones it only prepares the request, and the action wrapper answers after
 * the checks. Every miss is captured on the way out.
 */
export function expressBeforeAction(settings: ActionCacheSettings, guarded: boolean, req: ExpressLikeRequest, res: ServerResponse, next: Next): void {
  const driver = new ExpressDriverRequest(req, res, next);
  const opening = openRequest(settings, guarded, driver);
  if (opening instanceof Promise) void opening.then((o) => proceed(o, req, res, next));
  else proceed(opening, req, res, next);
}

function proceed(opening: Opening, req: ExpressLikeRequest, res: ServerResponse, next: Next): void {
  switch (opening.kind) {
    case "pass":
      next();
      return;
    case "bypass":
      for (const [name, value] of Object.entries(opening.headers)) res.setHeader(name, value);
      next();
      return;
    case "reply":
      sendExpressReply(res, opening.reply);
      return;
    case "run": {
      const slot: RequestSlot = { plan: opening.plan, late: opening.late, answered: false };
      attachSlot(req, slot);
      captureExpressResponse(slot, req, res);
      next();
      return;
    }
  }
}

/**
 * Runs inside the action wrapper, after routing-controllers' authorization and parameter checks.
 * Answers the hit for guarded actions; else runs the action (its response is being captured).
 */
export async function expressAroundAction(req: ExpressLikeRequest, res: ServerResponse, run: () => unknown): Promise<unknown> {
  const slot = slotOf(req);
  if (!slot?.late || slot.answered) return run();
  slot.late = false;
  const reply = await lookUpLate(slot.plan, { socket: () => req.socket, nativeHeaders: req.headers }, isMarkedDoNotCache(req));
  if (!reply) return run();
  slot.answered = true;
  sendExpressReply(res, reply);
  // The response is complete. A promise that never settles keeps routing-controllers from
  // handing anything to interceptors or writing again (an interceptor given `res` as the
  // action's result would otherwise crash with "headers already sent"); nothing refers to it,
  // so it is collected. As on the fast path, interceptors and after-middlewares do not run on a hit.
  return new Promise<never>(() => undefined);
}

/** Sends a reply (hit or 304) on an Express/Node response, through every middleware that wrapped it. */
export function sendExpressReply(res: ServerResponse, reply: Reply): void {
  // One writeHead with every header (merged with any a middleware already set) is much cheaper
  // than a setHeader per header on this hot path.
  for (const name in reply.extra) res.setHeader(name, reply.extra[name]!);
  res.writeHead(reply.status, reply.headers as OutgoingHttpHeaders);
  if (reply.body === undefined) res.end();
  else if (reply.text !== undefined) res.end(reply.text, "utf8");
  else res.end(reply.body);
}

/**
 * Captures a miss's response on the way out. When its headers are about to leave the cache's
 * layer, asks the plan what to add and whether to record the body; records the body bytes as the
 * action wrote them (below any compression); and once the response has finished, hands the plan
 * the headers that really left (after express-session, compression, cors...), which decide whether
 * it is stored. Bodies streamed without a declared length are passed through, not buffered.
 */
function captureExpressResponse(slot: RequestSlot, req: ExpressLikeRequest, res: ServerResponse): void {
  const plan: CachePlan = slot.plan;
  const originalWriteHead = res.writeHead;
  const originalWrite = res.write;
  const originalEnd = res.end;
  let decided = false;
  let replacement: Reply | undefined;
  let substitute: PageDecision["substitute"];
  let recording = false;
  let declaredLength: number | undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  res.once("close", () => plan.abandon());

  const decideNow = (body: Buffer | undefined) => {
    if (decided || res.headersSent || slot.answered) return;
    decided = true;
    const headers = res.getHeaders();
    const length = Number(headers["content-length"]);
    declaredLength = body === undefined && Number.isSafeInteger(length) && length >= 0 ? length : undefined;
    const decision = plan.onPage(res.statusCode, headers, body, isMarkedDoNotCache(req, plan.request), declaredLength);
    substitute = decision.substitute;
    if (substitute) {
      // The action's 304 confirmed the stored copy: the client, which asked unconditionally, gets it.
      res.statusCode = substitute.status;
      res.statusMessage = ""; // the 304's reason phrase would go out with it; "" lets Node send the status's own
      for (const [name, value] of Object.entries(substitute.headers)) res.setHeader(name, value);
      res.setHeader("content-length", substitute.body.length);
      declaredLength = undefined;
    }
    for (const name of decision.remove) res.removeHeader(name);
    for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
    recording = decision.page !== undefined;
    replacement = decision.replaceWith;
  };
  const record = (chunk: unknown, encoding: unknown) => {
    if (!recording || chunk === undefined || chunk === null || typeof chunk === "function") return;
    const buf = toBuffer(chunk, encoding);
    size += buf.length;
    if (declaredLength !== undefined && size > declaredLength) recording = false;
    else chunks.push(buf);
  };

  res.writeHead = function writeHead(this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    // Headers given to writeHead itself are moved onto the response first, so the decision sees them.
    const last = rest[rest.length - 1];
    if (last && typeof last === "object") {
      rest.pop();
      const pairs = Array.isArray(last) ? toPairs(last) : Object.entries(last as OutgoingHttpHeaders);
      for (const [name, value] of pairs) if (value !== undefined) this.setHeader(name, value as string | string[] | number);
    }
    this.statusCode = statusCode;
    decideNow(undefined);
    // A 304 replaced by the stored page: its reason phrase ("Not Modified") goes too.
    if (substitute && typeof rest[0] === "string") rest.shift();
    return (originalWriteHead as (...a: unknown[]) => ServerResponse).call(this, this.statusCode, ...rest);
  } as typeof res.writeHead;

  res.write = function write(this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    decideNow(undefined);
    if (substitute) return true; // bytes written after a 304: the stored body goes out instead
    record(chunk, typeof rest[0] === "string" ? rest[0] : undefined);
    return (originalWrite as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;

  res.end = function end(this: ServerResponse, ...args: unknown[]) {
    const chunk = typeof args[0] === "function" ? undefined : args[0];
    const encoding = typeof args[1] === "string" ? args[1] : undefined;
    if (!decided && !this.headersSent) {
      const body = chunk === undefined || chunk === null ? Buffer.alloc(0) : toBuffer(chunk, encoding);
      decideNow(body);
      if (recording && !substitute) {
        chunks.push(body);
        size = body.length;
      }
    } else if (!substitute) {
      record(chunk, encoding);
    }
    if (substitute) {
      // A 304 has no body: the stored one goes out (and is what gets stored again).
      const callback = args.find((a) => typeof a === "function");
      args = callback ? [substitute.body, callback] : [substitute.body];
      if (recording) {
        chunks.push(substitute.body);
        size = substitute.body.length;
      }
    }
    res.writeHead = originalWriteHead;
    res.write = originalWrite;
    res.end = originalEnd;
    if (replacement && !this.headersSent) {
      // staleIfError: the action failed; the client gets the stale entry instead of the error.
      for (const name of this.getHeaderNames()) this.removeHeader(name);
      sendExpressReply(this, replacement);
      return this;
    }
    const result = (originalEnd as (...a: unknown[]) => ServerResponse).apply(this, args);
    if (recording && (declaredLength === undefined || size === declaredLength)) {
      const body = Buffer.concat(chunks, size);
      this.once("finish", () => void plan.onLeft(this.getHeaders(), body));
    } else {
      plan.release();
    }
    return result;
  } as typeof res.end;
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.from(String(chunk), (typeof encoding === "string" ? encoding : "utf8") as BufferEncoding);
}

function toPairs(raw: unknown[]): Array<[string, unknown]> {
  // writeHead accepts [[name, value], ...] or a flat [name, value, name, value].
  if (raw.length > 0 && Array.isArray(raw[0])) return raw as Array<[string, unknown]>;
  const pairs: Array<[string, unknown]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([String(raw[i]), raw[i + 1]]);
  return pairs;
}
