import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { buildCacheRequest, isMarkedDoNotCache, type CacheRequest } from "./CacheRequest";
import type { CachePlan, Reply } from "./pageCache";

/** The parts of an Express request the cache reads. */
export interface ExpressLikeRequest {
  method: string;
  originalUrl?: string;
  url: string;
  params?: Record<string, string>;
  headers: IncomingHttpHeaders;
  user?: unknown;
  socket?: Socket;
}

/** The framework-neutral view of an Express request. */
export function expressCacheRequest(req: ExpressLikeRequest): CacheRequest {
  return buildCacheRequest({ method: req.method, url: req.originalUrl ?? req.url, params: req.params, headers: req.headers, user: req.user, raw: req }, [req]);
}

/** Sends a reply (hit or 304) on an Express/Node response. */
export function sendExpressReply(res: ServerResponse, reply: Reply): void {
  // One writeHead with every header (merged with any a middleware already set) is much cheaper
  // than a setHeader per header on this hot path.
  if (reply.age !== undefined) res.setHeader("age", reply.age);
  res.writeHead(reply.status, reply.headers as OutgoingHttpHeaders);
  if (reply.body === undefined) res.end();
  else res.end(reply.body);
}

/**
 * Captures the miss's response on the way out: when its headers are about to be sent, asks the plan
 * whether to store (and which headers to add), records the body bytes, and commits the entry when
 * the response ends. Bodies streamed without a declared length are passed through, not buffered.
 */
export function captureExpressResponse(plan: CachePlan, req: object, res: ServerResponse): void {
  const originalWriteHead = res.writeHead;
  const originalWrite = res.write;
  const originalEnd = res.end;
  let decided = false;
  let replacement: Reply | undefined;
  res.once("close", () => plan.release());
  let recording = false;
  let timeout = 0;
  let declaredLength: number | undefined;
  const chunks: Buffer[] = [];
  let size = 0;

  const decideNow = (body: Buffer | undefined) => {
    if (decided || res.headersSent) return;
    decided = true;
    const headers = res.getHeaders();
    const length = Number(headers["content-length"]);
    declaredLength = body === undefined && Number.isSafeInteger(length) && length >= 0 ? length : undefined;
    const decision = plan.onMissHeaders(res.statusCode, headers, body, isMarkedDoNotCache(req, plan.request), declaredLength);
    for (const name of decision.remove) res.removeHeader(name);
    for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
    recording = decision.store;
    timeout = decision.timeout;
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
    return (originalWriteHead as (...a: unknown[]) => ServerResponse).call(this, statusCode, ...rest);
  } as typeof res.writeHead;

  res.write = function write(this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    decideNow(undefined);
    record(chunk, typeof rest[0] === "string" ? rest[0] : undefined);
    return (originalWrite as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;

  res.end = function end(this: ServerResponse, ...args: unknown[]) {
    const chunk = typeof args[0] === "function" ? undefined : args[0];
    const encoding = typeof args[1] === "string" ? args[1] : undefined;
    if (!decided && !this.headersSent) {
      const body = chunk === undefined || chunk === null ? Buffer.alloc(0) : toBuffer(chunk, encoding);
      decideNow(body);
      if (recording) {
        chunks.push(body);
        size = body.length;
      }
    } else {
      record(chunk, encoding);
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
    const complete = declaredLength === undefined || size === declaredLength;
    if (recording && complete) void plan.commit(this.statusCode, this.getHeaders(), Buffer.concat(chunks, size), timeout);
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
