/**
 * The server under test, run by `bench/run.ts` in a child process of its own (forked with
 * ts-node and `--expose-gc`), so that autocannon's load generation never shares its event loop.
 *
 * Configured through the BENCH_SERVER environment variable (JSON, see {@link ServerConfig}).
 * Talks to the parent over IPC: sends `{ type: "ready", port, rawPort }`, answers `rss`,
 * `indexOverhead`, `profileStart` / `profileStop` and `close`.
 */
import "reflect-metadata";
import { writeFileSync } from "node:fs";
import http from "node:http";
import { Session } from "node:inspector";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { createExpressServer, createKoaServer, Get, JsonController, UseBefore, useContainer } from "routing-controllers";
import { Container, Service } from "typedi";
import { CachePage, type CacheRequest, closeCachePage, configureCachePage, generateCacheKey, getCacheBackend, invalidateTag, KeyvCacheBackend } from "../src";
import { registerCachePageMetrics } from "../src/prometheus";
import { BODY, BODY_BYTES } from "./body";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const apicache = require("apicache") as { middleware(duration: string): (req: unknown, res: unknown, next: () => void) => void };

/** What the parent asks this server to be. */
export interface ServerConfig {
  driver: "express" | "koa";
  /** Where `@CachePage` stores: Keyv in memory, or Redis configured as the default backend. */
  store: "memory" | "redis";
  redisUrl?: string;
  /** Keyv namespace on Redis. */
  namespace?: string;
  /** Delay of the slow actions, ms. */
  delayMs?: number;
  /** Mount the apicache route (Express only; default true). */
  apicache?: boolean;
  /** Also start a plain node:http server answering the same bytes (the load generator's ceiling). */
  rawCeiling?: boolean;
  /** "prometheus": registerCachePageMetrics on a prom-client registry, as an app exposing /metrics would. */
  telemetry?: "none" | "prometheus";
  /** With the memory store: the default backend's `maxBytes` (unset: the library's default). */
  maxBytes?: number;
  /** With the Redis store: the two tiers (SPEC §9), a local tier in front of Redis. */
  local?: { leaseMs?: number; maxBytes?: number };
  /** Mount `/page/:id` (one key per id whatever the host, tag `page-<id>`): the two-tier scenario's pages. */
  tierPages?: boolean;
}

const config = JSON.parse(process.env.BENCH_SERVER ?? "{}") as ServerConfig;
const DELAY_MS = config.delayMs ?? 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (config.telemetry === "prometheus") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Registry } = require("prom-client") as typeof import("prom-client");
  registerCachePageMetrics(new Registry());
}

if (config.store === "redis") {
  configureCachePage({
    backends: {
      default: {
        backend: "keyv",
        options: {
          store: config.redisUrl ?? "redis://127.0.0.1:6379",
          namespace: config.namespace ?? "bench",
          ...(config.local ? { local: config.local } : {}),
        },
      },
    },
  });
} else if (config.maxBytes !== undefined) {
  configureCachePage({ backends: { default: { backend: "keyv", options: { maxBytes: config.maxBytes } } } });
}

@Service()
@JsonController()
class BareController {
  @Get("/bare")
  bare() {
    return BODY;
  }

  @Get("/slow-bare")
  async slowBare() {
    await sleep(DELAY_MS);
    return BODY;
  }
}

@Service()
@JsonController()
class CachedController {
  /** The realistic case: the key from path + query, one plain tag. */
  @Get("/cached")
  @CachePage({ timeout: 600, keyFunc: generateCacheKey, tags: ["products"] })
  cached() {
    return BODY;
  }

  /** The same without tags (no version read on lookup). */
  @Get("/cached-untagged")
  @CachePage({ timeout: 600, keyFunc: generateCacheKey })
  cachedUntagged() {
    return BODY;
  }

  /** Every request has its own URL (`?n=<counter>`), so every request is a miss that is stored. */
  @Get("/slow-cached")
  @CachePage({ timeout: 600, keyFunc: generateCacheKey, tags: ["products"] })
  async slowCached() {
    await sleep(DELAY_MS);
    return BODY;
  }
}

@Service()
@JsonController()
class TierPageController {
  /** The same key on every instance (the Host differs by port), as behind a load balancer; one plain tag per page. */
  @Get("/page/:id")
  @CachePage({ timeout: 600, keyFunc: (req: CacheRequest) => `page-${req.params.id}`, tags: [(req: CacheRequest) => `page-${req.params.id}`] })
  page() {
    return BODY;
  }
}

@Service()
@JsonController()
class ApicacheController {
  /** apicache as its README shows it on one route: a before-middleware answering hits. */
  @Get("/apicache")
  @UseBefore(apicache.middleware("5 minutes"))
  apicached() {
    return BODY;
  }
}

/** Heap bytes per surrogate-index membership and per entry, measured on fresh in-memory backends (after full GCs). */
async function indexOverhead(n: number): Promise<{ perMembership: number; perEntry: number; keyLength: number }> {
  const gc = (global as { gc?: () => void }).gc;
  if (!gc) throw new Error("start the server with --expose-gc");
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const key = (i: number) => `:/products?category=shoes&page=${100000 + i}`;
  const response = { status: 200, headers: { "content-type": "application/json" }, body: Buffer.from("x") };

  // Entries alone (no tags): the baseline an index membership is compared with.
  const entriesOnly = new KeyvCacheBackend({ prune: false } as never);
  const keys = Array.from({ length: n }, (_, i) => key(i));
  const before = heap();
  for (const k of keys) await entriesOnly.set({ key: k, response, timeout: 600, surrogateKeys: [], tags: [], metadata: {} });
  const perEntry = (heap() - before) / n;
  await entriesOnly.close();

  // Memberships alone: the surrogate index of a fresh backend, fed the same (already allocated) keys.
  const indexed = new KeyvCacheBackend({ prune: false } as never);
  const start = heap();
  for (const k of keys) await indexed.surrogateIndex.add("products", [k], 600);
  const perMembership = (heap() - start) / n;
  await indexed.close();
  return { perMembership, perEntry, keyLength: key(0).length };
}

/** What the `invalidate` command runs: `invalidateTag` of each tag in turn, `gapMs` apart, until the tags or `untilMs` run out. */
interface InvalidateSeries {
  tags: string[];
  gapMs?: number;
  /** Start no invalidation later than this many ms after the first one. */
  untilMs?: number;
}

/** Times each `invalidateTag` in this process (from the call to its settling, performance.now()). */
async function invalidateSeries(series: InvalidateSeries): Promise<{ ms: number[]; startedAt: number[]; errors: string[]; failed: number[] }> {
  const ms: number[] = [];
  const startedAt: number[] = [];
  const errors: string[] = [];
  /** Indexes (in `ms`) of the calls that rejected. */
  const failed: number[] = [];
  const first = performance.now();
  for (const tag of series.tags) {
    const started = performance.now();
    if (series.untilMs !== undefined && started - first > series.untilMs) break;
    try {
      await invalidateTag(tag);
    } catch (error) {
      errors.push(`${tag}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      failed.push(ms.length);
    }
    ms.push(performance.now() - started);
    startedAt.push(started - first);
    if (series.gapMs) await sleep(series.gapMs);
  }
  return { ms, startedAt, errors, failed };
}

let profiler: Session | undefined;

async function handle(message: { id: number; cmd: string; args?: Record<string, unknown> }): Promise<unknown> {
  switch (message.cmd) {
    case "rss": {
      // Full GCs, then a second of idleness (V8 gives unused heap pages back to the OS on its
      // own schedule), then GCs again: RSS read this way is comparable from one reading to the next.
      const gc = (global as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      await sleep(Number(message.args?.settleMs ?? 1000));
      gc?.();
      gc?.();
      const m = process.memoryUsage();
      return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
    }
    case "storeBytes":
      // What the default backend's bounded memory store accounts for now (its own estimate).
      return { bytes: getCacheBackend().localBytes?.() ?? null };
    case "indexOverhead":
      return indexOverhead(Number(message.args?.n ?? 100000));
    case "profileStart": {
      profiler = new Session();
      profiler.connect();
      const post = (method: string, params?: object) =>
        new Promise<unknown>((resolve, reject) => profiler!.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
      await post("Profiler.enable");
      await post("Profiler.setSamplingInterval", { interval: 100 });
      await post("Profiler.start");
      return { started: true };
    }
    case "profileStop": {
      const session = profiler!;
      const result = await new Promise<{ profile: unknown }>((resolve, reject) =>
        session.post("Profiler.stop", (err, res) => (err ? reject(err) : resolve(res as { profile: unknown }))),
      );
      session.disconnect();
      writeFileSync(String(message.args?.file), JSON.stringify(result.profile));
      return { file: message.args?.file };
    }
    case "tierStatus": {
      // The default backend's local tier, when it has one (SPEC §9).
      const backend = getCacheBackend() as KeyvCacheBackend;
      const link = backend.tierLink;
      return { local: link !== undefined, id: link?.id, serving: link?.serving() ?? false, lapses: link?.lapses ?? 0, entries: backend.localTier?.size ?? 0 };
    }
    case "invalidate":
      return invalidateSeries(message.args as unknown as InvalidateSeries);
    case "closeCache":
      // Closes every backend (a local tier gives its lease up, so no invalidation waits for this process).
      await closeCachePage();
      return { closed: true };
    case "close":
      setTimeout(() => process.exit(0), 50);
      return { closing: true };
    default:
      throw new Error(`unknown command ${message.cmd}`);
  }
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

async function main(): Promise<void> {
  useContainer(Container);
  const controllers: Function[] = [BareController, CachedController];
  if (config.driver === "express" && config.apicache !== false) controllers.push(ApicacheController);
  if (config.tierPages) controllers.push(TierPageController);
  const settings = { controllers, defaultErrorHandler: true, development: false };
  const app = config.driver === "koa" ? createKoaServer(settings) : createExpressServer(settings);
  // autocannon closes its sockets when a fixed `amount` is done, pipelined responses then fail
  // with EPIPE; Koa would log each of them.
  if (config.driver === "koa") (app as { silent?: boolean }).silent = true;
  const server = http.createServer(config.driver === "koa" ? (app as { callback(): http.RequestListener }).callback() : (app as http.RequestListener));
  server.keepAliveTimeout = 60_000;
  const port = await listen(server);
  let rawPort: number | undefined;
  if (config.rawCeiling) {
    const raw = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": BODY_BYTES.length });
      res.end(BODY_BYTES);
    });
    raw.keepAliveTimeout = 60_000;
    rawPort = await listen(raw);
  }
  process.on("message", (message: { id: number; cmd: string; args?: Record<string, unknown> }) => {
    handle(message).then(
      (result) => process.send?.({ id: message.id, result }),
      (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
  process.on("disconnect", () => process.exit(0));
  process.send?.({ type: "ready", port, rawPort, pid: process.pid });
}

main().catch((error) => {
  console.error("bench server failed to start:", error);
  process.exit(1);
});
