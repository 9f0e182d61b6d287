/**
 * The cache under test for the http-tests/cache-tests conformance suite: a routing-controllers app
 * (Express 4) whose one cached action forwards every request to the suite's origin server and
 * replays the origin's status, headers and body bytes. The action plays the origin's part, so
 * whatever the suite sees besides the origin's own behaviour is the work of `@CachePage`.
 *
 * Run by `run.sh` (see README.md). Environment:
 *   ORIGIN  the suite's origin server (default http://127.0.0.1:8000)
 *   PORT    where this app listens, on 127.0.0.1 only (default 8001)
 *   CACHE_TIMEOUT  the action's `timeout`: seconds (default 3600), or "explicit" for a function that
 *           gives 3600 to responses with freshness of their own (max-age, s-maxage, Expires) and 0
 *           (do not store) to the others, as a plain HTTP cache without heuristics would
 *   CACHE_STATUSES  comma-separated `statuses` (default: the option's default, [200]); "rfc" for the
 *           statuses RFC 9110 §15.1 calls heuristically cacheable; "any" for every final status but 206
 *   CACHE_STALE_IF_ERROR  `staleIfError` seconds (default 0)
 */
import "reflect-metadata";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Request, Response } from "express";
import { Controller, createExpressServer, Get, Method, Req, Res, useContainer } from "routing-controllers";
import { Container, Service } from "typedi";
import { CachePage, generateCacheKey, type CachedResponse } from "../../src";
import { ownFreshness } from "../../src/http/freshness";

const ORIGIN = new URL(process.env.ORIGIN ?? "http://127.0.0.1:8000");
const PORT = Number(process.env.PORT ?? 8001);
const TIMEOUT_SETTING = process.env.CACHE_TIMEOUT ?? "3600";

/**
 * True when a stored response states its own lifetime (`max-age`, `s-maxage` or `Expires`, or those
 * of a valid `CDN-Cache-Control`), read by the same rule the cache applies.
 */
function hasOwnFreshness(response: CachedResponse): boolean {
  return ownFreshness(response.headers, Date.now()).lifetime !== undefined;
}

const RFC_CACHEABLE_STATUSES = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];
const STATUSES_SETTING = process.env.CACHE_STATUSES;
// "any": every final status but 206; with CACHE_TIMEOUT=explicit only responses that state their own
// freshness are stored, which RFC 9111 §3 allows for any status a cache understands.
const ANY_STATUS = Array.from({ length: 400 }, (_, i) => 200 + i).filter((s) => s !== 206);
const STATUSES =
  STATUSES_SETTING === undefined
    ? undefined
    : STATUSES_SETTING === "rfc"
      ? RFC_CACHEABLE_STATUSES
      : STATUSES_SETTING === "any"
        ? ANY_STATUS
        : STATUSES_SETTING.split(",").map(Number);
const STALE_IF_ERROR = Number(process.env.CACHE_STALE_IF_ERROR ?? 0);

const TIMEOUT: number | ((response: CachedResponse) => number) =
  TIMEOUT_SETTING === "explicit" ? (response) => (hasOwnFreshness(response) ? 3600 : 0) : Number(TIMEOUT_SETTING);

/** RFC 9110 §7.6.1: headers about one connection, never forwarded by an intermediary. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** The methods the suite sends besides GET and HEAD (the GET action also answers HEAD). */
const OTHER_METHODS: Array<Parameters<typeof Method>[0]> = ["post", "put", "delete", "patch", "options", "m-search"];

const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** Header names that must not cross this hop: the hop-by-hop set plus those named in `Connection`. */
function hopHeaders(connection: string | string[] | undefined): Set<string> {
  const names = new Set(HOP_BY_HOP);
  for (const value of [connection ?? []].flat()) {
    for (const name of value.split(",")) if (name.trim()) names.add(name.trim().toLowerCase());
  }
  return names;
}

/** `rawHeaders` ([name, value, name, value ...]) grouped by lower-case name, order kept, minus `drop`. */
function groupRawHeaders(raw: string[], drop: Set<string>): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (drop.has(name)) continue;
    grouped.set(name, [...(grouped.get(name) ?? []), raw[i + 1]]);
  }
  return grouped;
}

interface OriginResponse {
  status: number;
  statusMessage: string;
  headers: Map<string, string[]>;
  body: Buffer;
}

/**
 * Sends the client's request on to the origin: method, path and query, end-to-end headers, body.
 * Interim (1xx) responses are passed on to the client as they come, as a proxy does.
 */
function forward(req: Request, res: Response): Promise<OriginResponse> {
  // From req.headers, not rawHeaders: a validator the cache adds to the request (revalidation)
  // reaches the origin as it would reach an action that reads its headers.
  const drop = hopHeaders(req.headers.connection);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !drop.has(name)) headers[name] = value;
  return new Promise((resolve, reject) => {
    let response: http.IncomingMessage | undefined;
    const chunks: Buffer[] = [];
    const settle = () => {
      if (!response) return;
      resolve({
        status: response.statusCode ?? 502,
        statusMessage: response.statusMessage ?? "",
        headers: groupRawHeaders(response.rawHeaders, hopHeaders(response.headers.connection)),
        body: Buffer.concat(chunks),
      });
    };
    const upstream = http.request(
      { protocol: ORIGIN.protocol, hostname: ORIGIN.hostname, port: ORIGIN.port, method: req.method, path: req.originalUrl, headers, agent: upstreamAgent },
      (incoming) => {
        response = incoming;
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("end", settle);
      },
    );
    upstream.on("information", (info) => {
      if (info.statusCode === 103) res.writeEarlyHints(Object.fromEntries(groupRawHeaders(info.rawHeaders, hopHeaders(info.headers.connection))));
      else if (info.statusCode === 102) res.writeProcessing();
    });
    upstream.on("error", (error) => {
      // An origin that sends more bytes than its Content-Length (the suite does, on purpose) breaks
      // the connection after a complete response: that response stands, as it does for Varnish.
      if (response?.complete) setImmediate(settle);
      else reject(error);
    });
    // GET and HEAD carry no body here; the others are streamed through (nothing parsed it).
    req.pipe(upstream);
  });
}

/**
 * Writes the origin's response on the Express response and hands routing-controllers the body as a
 * Buffer, which it sends with `res.end`: the page cache captures status, headers and bytes there.
 */
async function relay(req: Request, res: Response): Promise<Buffer> {
  let origin: OriginResponse;
  try {
    origin = await forward(req, res);
  } catch (error) {
    res.status(502).setHeader("content-type", "text/plain");
    return Buffer.from(`origin unreachable: ${error instanceof Error ? error.message : String(error)}`);
  }
  res.statusCode = origin.status;
  res.statusMessage = origin.statusMessage;
  for (const [name, values] of origin.headers) {
    if (name === "content-length") continue;
    res.setHeader(name, values.length === 1 ? values[0] : values);
  }
  // HEAD and 304 have no body bytes: keep the origin's length. Otherwise it is the body's length.
  const length = origin.headers.get("content-length");
  if (req.method === "HEAD" || origin.status === 304 || origin.status === 204) {
    if (length && origin.status !== 204) res.setHeader("content-length", length[0]);
  } else {
    res.setHeader("content-length", String(origin.body.length));
  }
  return origin.body;
}

@Service()
@Controller()
export class ConformanceController {
  /** Every GET (and, through Express, HEAD): forwarded, and cached by the library under test. */
  @Get("*")
  @CachePage({ timeout: TIMEOUT, keyFunc: generateCacheKey, ...(STATUSES ? { statuses: STATUSES } : {}), staleIfError: STALE_IF_ERROR })
  cached(@Req() req: Request, @Res() res: Response): Promise<Buffer> {
    return relay(req, res);
  }

  /** Every other method: forwarded through the same app, not cached (the suite checks invalidation). */
  uncached(@Req() req: Request, @Res() res: Response): Promise<Buffer> {
    return relay(req, res);
  }
}

// One routing-controllers action per other method, all on the same forwarding method.
for (const method of OTHER_METHODS) {
  const descriptor = Object.getOwnPropertyDescriptor(ConformanceController.prototype, "uncached");
  (Method(method, "*") as MethodDecorator)(ConformanceController.prototype, "uncached", descriptor as PropertyDescriptor);
}

useContainer(Container);
const app = createExpressServer({
  controllers: [ConformanceController],
  classTransformer: false,
  defaultErrorHandler: true,
});
app.disable("x-powered-by");
app.disable("etag");

const server: http.Server = app.listen(PORT, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  console.log(`conformance app on http://127.0.0.1:${port}/ -> ${ORIGIN.origin}, timeout ${TIMEOUT_SETTING}`);
});
server.keepAliveTimeout = 30_000;

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.close();
    upstreamAgent.destroy();
    server.closeAllConnections();
    process.exit(0);
  });
}
