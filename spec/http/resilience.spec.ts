import { expect } from "chai";
import { Get, JsonController, QueryParam, Res } from "routing-controllers";
import { Service } from "typedi";
import {
  BaseCacheBackend,
  CachePage,
  configureCachePage,
  invalidateTag,
  KeyvCacheBackend,
  resetCachePageConfig,
  type CachedResponse,
  type CacheEntry,
} from "../../src";
import { ALL_DRIVERS, sleep, startApp, type TestApp } from "../support/apps";
import { recordLogs } from "../support/recordingLogger";

const state = { calls: 0, version: 1, fail: false as false | "throw" | 503, delayMs: 0 };
const key = (r: { path: string }) => r.path;

/** A backend that fails or hangs on demand, and counts the calls that reach it. */
class FlakyBackend extends BaseCacheBackend {
  inner = new KeyvCacheBackend();
  mode: "ok" | "throw" | "hang" = "ok";
  calls = 0;
  private async gate(): Promise<void> {
    this.calls += 1;
    if (this.mode === "throw") throw new Error("store down");
    if (this.mode === "hang") await new Promise(() => undefined);
  }
  async get(key: string): Promise<CachedResponse | undefined> {
    await this.gate();
    return this.inner.get(key);
  }
  override async lookup(key: string, tags: never[]) {
    await this.gate();
    return this.inner.lookup(key, tags);
  }
  async set(entry: CacheEntry): Promise<void> {
    await this.gate();
    return this.inner.set(entry);
  }
  async delete(key: string): Promise<boolean> {
    return this.inner.delete(key);
  }
  async invalidateBySurrogate(tag: string): Promise<number> {
    return this.inner.invalidateBySurrogate(tag);
  }
}
const flaky = new FlakyBackend();

@Service()
@JsonController("/res")
class ResilienceController {
  @Get("/slow")
  @CachePage({ timeout: 60, keyFunc: key })
  async slow() {
    state.calls += 1;
    await sleep(150);
    return { version: state.version };
  }

  @Get("/swr")
  @CachePage({ timeout: 1, keyFunc: key, staleWhileRevalidate: 30, tags: ["swr"] })
  async swr() {
    state.calls += 1;
    await sleep(state.delayMs);
    return { version: state.version };
  }

  @Get("/sie")
  @CachePage({ timeout: 1, keyFunc: key, staleIfError: 30, statuses: [200] })
  async sie(@QueryParam("x") _x?: string) {
    state.calls += 1;
    if (state.fail === "throw") throw new Error("database down");
    if (state.fail === 503) return Promise.reject(Object.assign(new Error("unavailable"), { httpCode: 503 }));
    return { version: state.version };
  }

  @Get("/broken-off")
  @CachePage({ timeout: 60, keyFunc: key })
  async brokenOff(@Res() res: any) {
    state.calls += 1;
    if (state.calls === 1) {
      // The first computation declares 10 bytes, sends 3, and its connection dies: never stored.
      await sleep(100);
      res.writeHead(200, { "content-type": "text/plain", "content-length": "10" });
      res.write("abc");
      res.destroy();
      return res;
    }
    return "whole";
  }

  @Get("/flaky")
  @CachePage({ timeout: 60, keyFunc: key, backend: flaky })
  flaky() {
    state.calls += 1;
    return { version: state.version };
  }
}

for (const driver of ALL_DRIVERS) {
  describe(`stampede protection, stale serving and fail-open (${driver})`, () => {
    let app: TestApp;
    before(async () => {
      app = await startApp(driver, [ResilienceController]);
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      await flaky.inner.delete(":/res/flaky");
      Object.assign(state, { calls: 0, version: 1, fail: false, delayMs: 0 });
      flaky.mode = "ok";
      flaky.calls = 0;
    });

    it("runs the action once for 500 concurrent identical misses; all get the same response", async function () {
      this.timeout(30_000);
      const responses = await Promise.all(Array.from({ length: 500 }, () => app.http.get("/res/slow")));
      expect(state.calls).to.equal(1);
      expect(new Set(responses.map((r) => r.text)).size).to.equal(1);
      expect(responses.every((r) => r.status === 200)).to.equal(true);
    });

    // Express only: Koa sends a body whole, so a Koa response cannot break off half-written.
    if (driver !== "koa")
      it("releases requests waiting on a computation whose response never completed, at once", async function () {
        this.timeout(10_000);
        const first = app.http.get("/res/broken-off").then(
          () => "answered",
          () => "broken",
        );
        await sleep(30); // the first request leads; this one waits for it
        const started = Date.now();
        const waiter = await app.http.get("/res/broken-off");
        expect(await first).to.equal("broken");
        expect(waiter.body).to.equal("whole");
        expect(Date.now() - started).to.be.lessThan(2000); // not the 10 s single-flight wait
      });

    it("serves a stale entry at once within staleWhileRevalidate, with exactly one background refresh", async function () {
      this.timeout(10_000);
      await app.http.get("/res/swr");
      await sleep(1100);
      state.version = 2;
      state.delayMs = 1500; // the refresh is slow; stale answers must not wait for it
      const started = Date.now();
      const stale = await Promise.all(Array.from({ length: 20 }, () => app.http.get("/res/swr")));
      expect(Date.now() - started).to.be.lessThan(1000);
      expect(stale.every((r) => r.headers["x-cache"] === "STALE" && r.body.version === 1)).to.equal(true);
      expect(stale[0].headers["cache-control"]).to.match(/stale-while-revalidate=30/);
      await sleep(1700);
      expect(state.calls).to.equal(2); // the first miss and one refresh
      const fresh = await app.http.get("/res/swr");
      expect(fresh.headers["x-cache"]).to.equal("HIT");
      expect(fresh.body.version).to.equal(2);
    });

    it("never serves an invalidated entry stale", async function () {
      this.timeout(10_000);
      await app.http.get("/res/swr");
      await sleep(1100);
      await invalidateTag("swr");
      state.version = 3;
      const after = await app.http.get("/res/swr");
      expect(after.headers["x-cache"]).to.equal("MISS");
      expect(after.body.version).to.equal(3);
    });

    for (const failure of ["throw", 503] as const) {
      it(`serves the stale entry instead of an error (${failure}) within staleIfError`, async function () {
        this.timeout(10_000);
        await app.http.get("/res/sie");
        await sleep(1100);
        state.fail = failure;
        const res = await app.http.get("/res/sie");
        expect(res.status).to.equal(200);
        expect(res.headers["x-cache"]).to.equal("STALE");
        expect(res.body).to.deep.equal({ version: 1 });
        expect(state.calls).to.equal(2);
        state.fail = false;
        state.version = 2;
        const recovered = await app.http.get("/res/sie");
        expect(recovered.body).to.deep.equal({ version: 2 });
        expect(recovered.headers["x-cache"]).to.equal("MISS");
      });
    }

    it("does not hide an error when there is no stale entry", async () => {
      state.fail = "throw";
      expect((await app.http.get("/res/sie?x=1")).status).to.equal(500);
    });

    it("fails open when the store throws: every request succeeds, the problem is logged once", async () => {
      const logs = recordLogs();
      try {
        configureCachePage({ circuitBreaker: false });
        flaky.mode = "throw";
        const responses = await Promise.all(Array.from({ length: 20 }, () => app.http.get("/res/flaky")));
        expect(responses.every((r) => r.status === 200)).to.equal(true);
        expect(state.calls).to.equal(20);
        expect(logs.messages.filter((m) => m.includes("cache lookup failed"))).to.have.length(1);
      } finally {
        logs.restore();
      }
    });

    it("fails open when the store hangs, after storeTimeoutMs", async () => {
      configureCachePage({ storeTimeoutMs: 50, circuitBreaker: false });
      flaky.mode = "hang";
      const started = Date.now();
      const res = await app.http.get("/res/flaky");
      expect(res.status).to.equal(200);
      expect(Date.now() - started).to.be.lessThan(1000);
    });

    it("opens the circuit after repeated failures, skips the store during the cool-down, then probes and resumes", async function () {
      this.timeout(10_000);
      configureCachePage({ storeTimeoutMs: 50, circuitBreaker: { failureThreshold: 3, cooldownMs: 300 } });
      flaky.mode = "throw";
      for (let i = 0; i < 3; i += 1) expect((await app.http.get("/res/flaky")).status).to.equal(200);
      const reached = flaky.calls;
      for (let i = 0; i < 5; i += 1) expect((await app.http.get("/res/flaky")).status).to.equal(200);
      expect(flaky.calls).to.equal(reached); // skipped while open
      flaky.mode = "ok";
      await sleep(350);
      await app.http.get("/res/flaky"); // the probe: closes the circuit, stores
      await sleep(20);
      const hit = await app.http.get("/res/flaky");
      expect(hit.headers["x-cache"]).to.equal("HIT");
    });
  });
}
