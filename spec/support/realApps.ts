import http, { type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import express from "express";
import Koa from "koa";
import { useContainer, useExpressServer, useKoaServer, type RoutingControllersOptions } from "routing-controllers";
import request from "supertest";
import { Container } from "typedi";
import { type Driver, PassThroughInterceptor } from "./apps";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express5 = require("express5") as () => unknown;

useContainer(Container);

/** The native app a `mount` callback receives: an Express 4 / Express 5 app, or a Koa app. */
export type NativeApp = any;

export interface RealAppOptions {
  controllers: Function[];
  /** routing-controllers options (currentUserChecker, authorizationChecker, ...). */
  routing?: Partial<RoutingControllersOptions>;
  /** Mounts the middleware users put in front, BEFORE routing-controllers registers its routes. */
  mount?: (app: NativeApp, driver: Driver) => void;
  /** Express `app.set("trust proxy", true)` / Koa `app.proxy = true`. */
  trustProxy?: boolean;
}

export interface RealApp {
  driver: Driver;
  server: Server;
  port: number;
  /** A supertest client (no cookie jar). */
  http: ReturnType<typeof request>;
  /** A supertest client with its own cookie jar: one browser. */
  agent(): ReturnType<typeof request.agent>;
  /** A raw GET/HEAD through node:http: bytes as they left, nothing decoded. */
  raw(path: string, headers?: Record<string, string>, method?: string): Promise<RawResponse>;
  close(): Promise<void>;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** name/value pairs as received, names lower-cased: shows duplicated headers. */
  rawHeaders: Array<[string, string]>;
  body: Buffer;
}

/**
 * A routing-controllers app built the way users build one: a native app (Express 4 `express()`,
 * Express 5, or `new Koa()`) with its middleware mounted first, then handed to
 * `useExpressServer` / `useKoaServer`; listening on 127.0.0.1 on a free port.
 */
export async function startRealApp(driver: Driver, options: RealAppOptions): Promise<RealApp> {
  const settings: RoutingControllersOptions = {
    controllers: options.controllers,
    defaultErrorHandler: true,
    development: false,
    interceptors: [PassThroughInterceptor],
    ...options.routing,
  };
  let app: NativeApp;
  if (driver === "koa") {
    app = new Koa();
    if (options.trustProxy) app.proxy = true;
    options.mount?.(app, driver);
    useKoaServer(app, settings);
  } else {
    app = driver === "express" ? express() : express5();
    if (options.trustProxy) app.set("trust proxy", true);
    options.mount?.(app, driver);
    useExpressServer(app, settings);
  }
  const server: Server = await new Promise((resolve, reject) => {
    const s: Server = (driver === "koa" ? http.createServer(app.callback()) : http.createServer(app)) as Server;
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    driver,
    server,
    port,
    http: request(server),
    agent: () => request.agent(server),
    raw: (path, headers = {}, method = "GET") => rawRequest(port, path, headers, method),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A request through node:http with exactly the given headers (plus Host when not given), body not decoded. */
export function rawRequest(port: number, path: string, headers: Record<string, string>, method = "GET"): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const rawHeaders: Array<[string, string]> = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) rawHeaders.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders, body: Buffer.concat(chunks) });
      });
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${method} ${path} within 10 s`)));
    req.end();
  });
}

/** Decodes a body by its Content-Encoding (identity, gzip, x-gzip, deflate, br; a list applied in order). Throws on bytes that do not decode. */
export function decodeBody(res: RawResponse): Buffer {
  const header = String(res.headers["content-encoding"] ?? "identity");
  const codings = header
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  let body = res.body;
  for (const coding of codings.reverse()) {
    if (coding === "gzip" || coding === "x-gzip") body = zlib.gunzipSync(body);
    else if (coding === "deflate") body = inflateEither(body);
    else if (coding === "br") body = zlib.brotliDecompressSync(body);
    else throw new Error(`unknown content-coding ${coding}`);
  }
  return body;
}

function inflateEither(body: Buffer): Buffer {
  try {
    return zlib.inflateSync(body);
  } catch {
    return zlib.inflateRawSync(body);
  }
}

/** The content-codings a request's Accept-Encoding allows (RFC 9110 §12.5.3), lower case; "identity" unless refused. */
export function acceptedCodings(acceptEncoding: string | undefined): (coding: string) => boolean {
  if (acceptEncoding === undefined) return () => true; // no header: any coding is acceptable
  const q = new Map<string, number>();
  for (const part of acceptEncoding.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (!name) continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    q.set(name.trim(), qParam ? Number(qParam.slice(2)) : 1);
  }
  return (coding) => {
    const c = coding.toLowerCase();
    const own = q.get(c === "x-gzip" ? "gzip" : c);
    if (own !== undefined) return own > 0;
    const star = q.get("*");
    if (star !== undefined) return star > 0;
    return c === "identity"; // identity is acceptable unless refused by "identity;q=0" or "*;q=0"
  };
}

/**
 * A connect-style middleware (cors, helmet) on Koa, the way koa-connect / koa-helmet mount them:
 * it runs on the raw req/res, then the rest of the chain.
 */
export function koaFromConnect(mw: (req: any, res: any, next: (err?: unknown) => void) => void) {
  return (ctx: any, next: () => Promise<unknown>) =>
    new Promise<void>((resolve, reject) => {
      mw(ctx.req, ctx.res, (err?: unknown) => {
        if (err) reject(err);
        else next().then(() => resolve(), reject);
      });
    });
}

/** Values of one header on a RawResponse, as they were received (several lines = several values). */
export function headerLines(res: RawResponse, name: string): string[] {
  const lower = name.toLowerCase();
  return res.rawHeaders.filter(([n]) => n === lower).map(([, v]) => v);
}

/** The cookie name=value pairs of Set-Cookie lines (attributes dropped). */
export function setCookiePairs(setCookie: string | string[] | undefined): string[] {
  if (setCookie === undefined) return [];
  const lines = Array.isArray(setCookie) ? setCookie : [setCookie];
  return lines.map((line) => line.split(";")[0].trim());
}

/** The Cache-Status members (RFC 9211) of a response, in order. */
export function cacheStatusMembers(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(", ") : value;
  return joined
    .split(",")
    .map((m) => m.trim())
    .filter((m) => m !== "");
}

/** Our Cache-Status member(s): those for the cache named `custom-cache-page`. */
export function ownCacheStatus(value: string | string[] | undefined): string[] {
  return cacheStatusMembers(value).filter((m) => m.split(";")[0].trim() === "custom-cache-page");
}

/** A value unique to this process and call: keeps keys and tags of one test apart from every other. */
let nonceCounter = 0;
export function nonce(label = "n"): string {
  nonceCounter += 1;
  return `${label}${process.pid}x${Date.now().toString(36)}x${nonceCounter}`;
}

/** Counts calls by name; reset() between tests. */
export class CallCounter {
  private readonly counts = new Map<string, number>();
  hit(name: string): number {
    const n = (this.counts.get(name) ?? 0) + 1;
    this.counts.set(name, n);
    return n;
  }
  of(name: string): number {
    return this.counts.get(name) ?? 0;
  }
  reset(): void {
    this.counts.clear();
  }
}
