import http from "node:http";
import type { AddressInfo } from "node:net";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { expect } from "chai";
import { Registry } from "prom-client";
import { All, Controller, Get, QueryParam } from "routing-controllers";
import { Service } from "typedi";
import {
  CachePage,
  configureCachePage,
  generateCacheKey,
  invalidateTag,
  resetCachePageConfig,
  subscribeCachePage,
  VarnishBackend,
  type CachePageInvalidateEvent,
  type CachePagePurgeEvent,
  type CachePageRequestEvent,
  type CachePageStoreEvent,
} from "../../src";
import { registerCachePageOpenTelemetry } from "../../src/opentelemetry";
import { registerCachePageMetrics } from "../../src/prometheus";
import { DRIVERS, sleep, startApp, type TestApp } from "../support/apps";

let calls = 0;
const TOKEN = "debug-token-0123456789abcdef";

@Service()
@Controller("/tel")
class TelemetryController {
  @Get("/page")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey, tags: ["tel-page"] })
  page(@QueryParam("n") n?: string) {
    calls += 1;
    return `page ${n ?? ""} ${calls}`;
  }

  @Get("/short")
  @CachePage({ timeout: 1, keyFunc: generateCacheKey, staleWhileRevalidate: 30 })
  short() {
    calls += 1;
    return `short ${calls}`;
  }

  @Get("/skip")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey, onlyIf: () => false })
  skip() {
    return "skip";
  }

  @All("/any")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey })
  any() {
    return "any";
  }
}

function collect() {
  const seen = {
    request: [] as CachePageRequestEvent[],
    store: [] as CachePageStoreEvent[],
    invalidate: [] as CachePageInvalidateEvent[],
    purge: [] as CachePagePurgeEvent[],
  };
  const stop = subscribeCachePage({
    request: (e) => seen.request.push(e),
    store: (e) => seen.store.push(e),
    invalidate: (e) => seen.invalidate.push(e),
    purge: (e) => seen.purge.push(e),
  });
  return { seen, stop };
}

/** Resolves once `check` holds (misses publish once the response has left and the entry is stored). */
async function eventually(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for telemetry");
    await sleep(5);
  }
}

for (const driver of DRIVERS) {
  describe(`telemetry (${driver})`, function () {
    this.timeout(10_000);
    let app: TestApp;
    before(async () => {
      app = await startApp(driver, [TelemetryController]);
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls = 0;
    });

    it("publishes one request message per result: miss (stored), hit, stale, bypass, pass", async () => {
      const { seen, stop } = collect();
      try {
        await app.http.get("/tel/page?n=1");
        await eventually(() => seen.request.length === 1);
        await app.http.get("/tel/page?n=1");
        await app.http.get("/tel/skip");
        await app.http.post("/tel/any");
        await app.http.get("/tel/short");
        await eventually(() => seen.request.length === 5);
        await sleep(1_100);
        await app.http.get("/tel/short");
        await eventually(() => seen.request.length === 6);
        const byResult = seen.request.map((e) => [e.route, e.result]);
        expect(byResult).to.deep.equal(
          [
            ["GET /tel/page", "miss"],
            ["GET /tel/page", "hit"],
            ["GET /tel/skip", "bypass"],
            ["POST /tel/any", "pass"],
            ["GET /tel/short", "miss"],
            ["GET /tel/short", "stale"],
          ].map(([route, result]) => [route === "POST /tel/any" ? "ALL /tel/any" : route, result]),
        );
        expect(seen.request[0]).to.include({ method: "GET", stored: true });
        expect(seen.request[0].actionMs).to.be.a("number");
        expect(seen.request[2].reason).to.equal("onlyIf returned false");
        expect(seen.request[3].method).to.equal("POST");
        for (const e of seen.request) expect(e.durationMs).to.be.at.least(0);
        expect(seen.store.some((e) => e.operation === "set" && e.backend === "default" && e.error === undefined)).to.equal(true);
      } finally {
        stop();
      }
    });

    it("costs nothing without a subscriber: nothing is published once unsubscribed", async () => {
      const { seen, stop } = collect();
      stop();
      await app.http.get("/tel/page?n=quiet");
      await app.http.get("/tel/page?n=quiet");
      expect(seen.request).to.deep.equal([]);
    });

    it("publishes invalidations per backend with the tags, mode and what was deleted", async () => {
      const { seen, stop } = collect();
      try {
        await app.http.get("/tel/page?n=inv");
        await eventually(() => seen.request.length === 1);
        expect(await invalidateTag("tel-page")).to.equal(1);
        expect(seen.invalidate).to.have.length(1);
        expect(seen.invalidate[0]).to.include({ backend: "default", mode: "delete", deleted: 1 });
        expect(seen.invalidate[0].tags).to.deep.equal(["tel-page"]);
      } finally {
        stop();
      }
    });

    it("counts requests in Prometheus by route template, never by key or query string", async () => {
      const registry = new Registry();
      const stop = registerCachePageMetrics(registry);
      try {
        await app.http.get("/tel/page?n=secret-query-value");
        await app.http.get("/tel/page?n=secret-query-value");
        await app.http.get("/tel/skip");
        const requests = await registry.getSingleMetricAsString("cache_page_requests_total");
        await eventually(() => true);
        expect(requests).to.include('cache_page_requests_total{route="GET /tel/page",method="GET",result="hit"} 1');
        expect(requests).to.include('cache_page_requests_total{route="GET /tel/skip",method="GET",result="bypass"} 1');
        const text = await registry.metrics();
        expect(text).to.not.include("secret-query-value");
        expect(text).to.not.include("tel-page"); // tags are never labels
        expect(text).to.include('cache_page_store_duration_seconds_count{backend="default",operation="lookup",outcome="ok"}');
        expect(text).to.match(/cache_page_action_duration_seconds_count\{route="GET \/tel\/page"\} 1/);
        expect(text).to.match(/cache_page_local_bytes\{backend="default"\} \d+/);
      } finally {
        stop();
      }
      expect((await registry.metrics()).trim()).to.equal("");
    });

    it("records OpenTelemetry metrics and spans for store calls, invalidations and the action on a miss", async () => {
      const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
      const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 });
      const meterProvider = new MeterProvider({ readers: [reader] });
      const spanExporter = new InMemorySpanExporter();
      const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
      const stop = registerCachePageOpenTelemetry({ meter: meterProvider.getMeter("test"), tracer: tracerProvider.getTracer("test") });
      try {
        await app.http.get("/tel/page?n=otel");
        await sleep(50);
        await app.http.get("/tel/page?n=otel");
        await invalidateTag("tel-page");
        await reader.forceFlush();
        const names = metricExporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.descriptor.name)));
        expect(names).to.include.members([
          "cache_page.requests",
          "cache_page.action.duration",
          "cache_page.store.duration",
          "cache_page.invalidations",
          "cache_page.local.bytes",
        ]);
        const requests = metricExporter.getMetrics()[0].scopeMetrics[0].metrics.find((m) => m.descriptor.name === "cache_page.requests")!;
        const points = requests.dataPoints.map((p) => ({ ...p.attributes, value: p.value }));
        expect(points).to.deep.include({ route: "GET /tel/page", method: "GET", result: "hit", value: 1 });
        const spans = spanExporter.getFinishedSpans().map((s) => s.name);
        expect(spans).to.include.members(["cache_page action", "cache_page store lookup", "cache_page store set", "cache_page invalidate"]);
        for (const s of spanExporter.getFinishedSpans()) expect(JSON.stringify(s.attributes)).to.not.include("otel");
      } finally {
        stop();
        await meterProvider.shutdown();
        await tracerProvider.shutdown();
      }
    });

    it("explains the decision in the debug header only to requests carrying the token, and never stores it", async () => {
      configureCachePage({ debugHeader: { token: TOKEN } });
      const miss = await app.http.get("/tel/page?n=debug").set("X-Cache-Debug", TOKEN);
      expect(miss.headers["x-cache-debug"]).to.match(
        /^result=miss; key=[0-9a-f]{32}; tags=tel-page; (versions=tel-page:\d+; )?backend=default; reason="storable here/,
      );
      const anonymous = await app.http.get("/tel/page?n=debug");
      expect(anonymous.headers["x-cache"]).to.equal("HIT");
      expect(anonymous.headers["x-cache-debug"]).to.equal(undefined);
      const wrong = await app.http.get("/tel/page?n=debug").set("X-Cache-Debug", `${TOKEN.slice(0, -1)}x`);
      expect(wrong.headers["x-cache-debug"]).to.equal(undefined);
      const hit = await app.http.get("/tel/page?n=debug").set("X-Cache-Debug", TOKEN);
      expect(hit.headers["x-cache-debug"]).to.match(/^result=hit; key=[0-9a-f]{32}; tags=tel-page; .*store=memory/);
      const bypass = await app.http.get("/tel/skip").set("X-Cache-Debug", TOKEN);
      expect(bypass.headers["x-cache-debug"]).to.equal('result=bypass; reason="onlyIf returned false"');
    });
  });
}

describe("telemetry of CDN purges", () => {
  afterEach(() => resetCachePageConfig());

  it("publishes each purge request with its attempts, and the failure after the retries", async () => {
    let requests = 0;
    const server = http.createServer((req, res) => {
      requests += 1;
      req.resume();
      res.writeHead(503).end("busy");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { seen, stop } = collect();
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const varnish = new VarnishBackend({ urls: [url], maxRetries: 2, retryBaseDelayMs: 1, retryMaxDelayMs: 2, timeoutMs: 1000 });
      await varnish.invalidateBySurrogates(["t1"]).catch(() => undefined);
      expect(seen.purge).to.have.length(1);
      expect(seen.purge[0]).to.include({ backend: "Varnish", attempts: 3 });
      expect(seen.purge[0].keys).to.include("t1");
      expect(seen.purge[0].error).to.be.instanceOf(Error);
      expect(requests).to.equal(3);
    } finally {
      stop();
      server.close();
    }
  });
});
