import { expect } from "chai";
import { Controller, Get, Header, HttpCode, QueryParam, Req } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, doNotCache, generateCacheKey, resetCachePageConfig, type CacheRequest } from "../../src";
import { REFRESH_HEADER } from "../../src/engine/backgroundRefresh";
import { formatHttpDate, parseHttpDate } from "../../src/http/httpDate";
import { ALL_DRIVERS, sleep, startApp, type TestApp } from "../support/apps";

const calls: Record<string, number> = {};
const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
const key = (r: CacheRequest) => generateCacheKey(r);
// Fixed when the module loads: by the time a test runs they lie in the past / the future.
const OLD_DATE = formatHttpDate(Date.now() - 3_000);
const LATER = formatHttpDate(Date.now() + 3_600_000);
const LAST_MODIFIED = formatHttpDate(Date.now() - 86_400_000);

function headerOf(req: unknown, name: string): unknown {
  const r = req as { headers?: Record<string, unknown>; header?: Record<string, unknown> };
  return (r.headers ?? r.header)?.[name];
}

@Service()
@Controller("/life")
class LifetimeController {
  @Get("/plain")
  @CachePage({ timeout: 60, keyFunc: key })
  plain() {
    count("plain");
    return "plain";
  }

  @Get("/own-max-age")
  @Header("Cache-Control", "max-age=1")
  @CachePage({ timeout: 60, keyFunc: key, staleWhileRevalidate: 30 })
  ownMaxAge() {
    return `own ${count("ownMaxAge")}`;
  }

  @Get("/max-age-0")
  @Header("Cache-Control", "max-age=0")
  @CachePage({ timeout: 60, keyFunc: key })
  maxAgeZero() {
    return `zero ${count("maxAgeZero")}`;
  }

  @Get("/s-maxage")
  @Header("Cache-Control", "s-maxage=600")
  @CachePage({ timeout: 60, keyFunc: key })
  sMaxAge() {
    return `s ${count("sMaxAge")}`;
  }

  @Get("/expires-past")
  @Header("Expires", OLD_DATE)
  @CachePage({ timeout: 60, keyFunc: key })
  expiresPast() {
    return `past ${count("expiresPast")}`;
  }

  @Get("/expires-invalid")
  @Header("Expires", "0")
  @CachePage({ timeout: 60, keyFunc: key })
  expiresInvalid() {
    return `invalid ${count("expiresInvalid")}`;
  }

  @Get("/expires-later")
  @Header("Expires", LATER)
  @CachePage({ timeout: 60, keyFunc: key })
  expiresLater() {
    return `later ${count("expiresLater")}`;
  }

  @Get("/old-date")
  @Header("Date", OLD_DATE)
  // Long enough that the Date, fixed when the module loaded, is still within it when the test runs.
  @CachePage({ timeout: 86_400, keyFunc: key })
  oldDate() {
    return `date ${count("oldDate")}`;
  }

  @Get("/own-age")
  @Header("Age", "50")
  @CachePage({ timeout: 60, keyFunc: key })
  ownAge() {
    return `age ${count("ownAge")}`;
  }

  @Get("/own-swr")
  @Header("Cache-Control", "max-age=1, stale-while-revalidate=30")
  @CachePage({ timeout: 60, keyFunc: key })
  ownSwr() {
    return `swr ${count("ownSwr")}`;
  }

  @Get("/own-swr-short")
  @Header("Cache-Control", "max-age=1, stale-while-revalidate=1")
  @CachePage({ timeout: 60, keyFunc: key })
  ownSwrShort() {
    return `short ${count("ownSwrShort")}`;
  }

  @Get("/own-swr-capped")
  @Header("Cache-Control", "stale-while-revalidate=3600")
  @CachePage({ timeout: 1, keyFunc: key })
  ownSwrCapped() {
    return `capped ${count("ownSwrCapped")}`;
  }

  @Get("/own-sie")
  @Header("Cache-Control", "max-age=1, stale-if-error=30")
  @CachePage({ timeout: 60, keyFunc: key })
  ownSie() {
    if (count("ownSie") > 1) throw new Error("database down");
    return "sie 1";
  }

  @Get("/must-revalidate")
  @Header("Cache-Control", "max-age=1, must-revalidate, stale-while-revalidate=30, stale-if-error=30")
  @CachePage({ timeout: 60, keyFunc: key, staleWhileRevalidate: 30, staleIfError: 30 })
  mustRevalidate() {
    return `mr ${count("mustRevalidate")}`;
  }

  @Get("/last-modified")
  @Header("Last-Modified", LAST_MODIFIED)
  @CachePage({ timeout: 60, keyFunc: key })
  lastModified() {
    return `lm ${count("lastModified")}`;
  }

  @Get("/partial")
  @HttpCode(206)
  @Header("Content-Range", "bytes 0-1/10")
  @CachePage({ timeout: 60, keyFunc: key, statuses: [200] })
  partial() {
    return `pa ${count("partial")}`;
  }

  @Get("/echo")
  @CachePage({
    timeout: 60,
    keyFunc: (r) => {
      if (r.query.skip !== undefined) doNotCache(r);
      return generateCacheKey(r);
    },
  })
  echo(@Req() req: unknown, @QueryParam("q") q?: string) {
    count("echo");
    return JSON.stringify({ q, marker: headerOf(req, REFRESH_HEADER) ?? null, call: calls.echo });
  }
}

for (const driver of ALL_DRIVERS) {
  describe(`the response's own lifetime and headers (${driver})`, function () {
    this.timeout(10_000);
    let app: TestApp;
    before(async () => {
      app = await startApp(driver, [LifetimeController]);
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      for (const k of Object.keys(calls)) delete calls[k];
    });

    it("replays the stored Date, counts Age from it, and sends an integer max-age with a valid Expires", async () => {
      const miss = await app.http.get("/life/plain");
      expect(miss.headers["x-cache"]).to.equal("MISS");
      expect(parseHttpDate(miss.headers.date)).to.be.a("number");
      await sleep(1_100);
      const hit = await app.http.get("/life/plain");
      expect(hit.headers["x-cache"]).to.equal("HIT");
      expect(hit.headers.date).to.equal(miss.headers.date);
      expect(Number(hit.headers.age)).to.be.within(1, 2);
      expect(hit.headers["cache-control"]).to.equal("max-age=60");
      expect(hit.headers.expires).to.equal(miss.headers.expires);
      expect(parseHttpDate(hit.headers.expires)! - parseHttpDate(hit.headers.date)!).to.equal(60_000);
    });

    it("keeps the action's own max-age=1: a hit within it, a miss after it, never a hit with Age past it", async () => {
      const miss = await app.http.get("/life/own-max-age");
      expect(miss.headers["cache-control"]).to.equal("max-age=1");
      expect(miss.headers.expires).to.equal(undefined);
      const hit = await app.http.get("/life/own-max-age");
      expect(hit.headers["x-cache"]).to.equal("HIT");
      expect(hit.headers["cache-control"]).to.equal("max-age=1");
      expect(Number(hit.headers.age)).to.equal(0);
      await sleep(1_100);
      const after = await app.http.get("/life/own-max-age");
      expect(after.headers["x-cache"]).to.not.equal("HIT");
      expect(Number(after.headers.age ?? 0)).to.be.at.most(1);
    });

    it("never stores max-age=0, a past Expires or an invalid one", async () => {
      for (const path of ["/life/max-age-0", "/life/expires-past", "/life/expires-invalid"]) {
        await app.http.get(path);
        const again = await app.http.get(path);
        expect(again.headers["x-cache"], path).to.equal("BYPASS");
        expect(again.headers["cache-status"], path).to.match(/custom-cache-page; fwd=bypass; detail="the response is stale already/);
      }
      expect([calls.maxAgeZero, calls.expiresPast, calls.expiresInvalid]).to.deep.equal([2, 2, 2]);
    });

    it("keeps s-maxage and an explicit Expires as the action set them", async () => {
      await app.http.get("/life/s-maxage");
      const s = await app.http.get("/life/s-maxage");
      expect(s.headers["x-cache"]).to.equal("HIT");
      expect(s.headers["cache-control"]).to.equal("s-maxage=600");
      await app.http.get("/life/expires-later");
      const e = await app.http.get("/life/expires-later");
      expect(e.headers["x-cache"]).to.equal("HIT");
      expect(e.headers.expires).to.equal(LATER);
      expect(e.headers["cache-control"]).to.equal(undefined);
    });

    it("counts the response's own Age and its old Date into the Age of a hit", async () => {
      await app.http.get("/life/own-age");
      const aged = await app.http.get("/life/own-age");
      expect(aged.headers["x-cache"]).to.equal("HIT");
      expect(Number(aged.headers.age)).to.be.within(50, 51);
      await app.http.get("/life/old-date");
      const dated = await app.http.get("/life/old-date");
      expect(dated.headers["x-cache"]).to.equal("HIT");
      expect(dated.headers.date).to.equal(OLD_DATE);
      expect(Number(dated.headers.age)).to.be.at.least(3);
    });

    it("serves a response stale within its own stale-while-revalidate while one refresh runs, then the refreshed page", async () => {
      await app.http.get("/life/own-swr");
      await sleep(1_100);
      const stale = await app.http.get("/life/own-swr");
      expect(stale.headers["x-cache"]).to.equal("STALE");
      expect(stale.text).to.equal("swr 1");
      expect(stale.headers["cache-status"]).to.match(/custom-cache-page; fwd=stale/);
      expect(stale.headers["cache-control"]).to.equal("max-age=1, stale-while-revalidate=30");
      let refreshed = await app.http.get("/life/own-swr");
      for (let i = 0; i < 20 && refreshed.text !== "swr 2"; i += 1) {
        await sleep(50);
        refreshed = await app.http.get("/life/own-swr");
      }
      expect(refreshed.text).to.equal("swr 2");
      expect(refreshed.headers["x-cache"]).to.equal("HIT");
      expect(calls.ownSwr, "one background refresh").to.equal(2);
    });

    it("never serves a response stale past its own stale-while-revalidate window", async () => {
      await app.http.get("/life/own-swr-short");
      await sleep(2_200);
      const after = await app.http.get("/life/own-swr-short");
      expect(after.headers["x-cache"]).to.equal("MISS");
      expect(after.text).to.equal("short 2");
    });

    it("keeps a response's own stale window within the action's timeout", async () => {
      const miss = await app.http.get("/life/own-swr-capped");
      expect(miss.headers["cache-control"]).to.equal("stale-while-revalidate=3600, max-age=1");
      // Fresh for 1 s, stale for at most the timeout (1 s) more, however long the response asks for.
      await sleep(2_200);
      const after = await app.http.get("/life/own-swr-capped");
      expect(after.headers["x-cache"]).to.equal("MISS");
      expect(after.text).to.equal("capped 2");
    });

    it("serves a response's stale copy instead of an error within its own stale-if-error", async () => {
      await app.http.get("/life/own-sie");
      await sleep(1_100);
      const res = await app.http.get("/life/own-sie");
      expect(res.status).to.equal(200);
      expect(res.headers["x-cache"]).to.equal("STALE");
      expect(res.text).to.equal("sie 1");
      expect(calls.ownSie).to.equal(2);
    });

    it("never serves a must-revalidate response stale, whatever staleWhileRevalidate says", async () => {
      await app.http.get("/life/must-revalidate");
      await sleep(1_100);
      const after = await app.http.get("/life/must-revalidate");
      expect(after.headers["x-cache"]).to.equal("MISS");
      expect(after.text).to.equal("mr 2");
    });

    it("answers If-Modified-Since on a hit from Last-Modified", async () => {
      await app.http.get("/life/last-modified");
      const notModified = await app.http.get("/life/last-modified").set("If-Modified-Since", LAST_MODIFIED);
      expect(notModified.status).to.equal(304);
      expect(notModified.headers["x-cache"]).to.equal("HIT");
      const older = await app.http.get("/life/last-modified").set("If-Modified-Since", formatHttpDate(Date.now() - 2 * 86_400_000));
      expect(older.status).to.equal(200);
      expect(older.text).to.equal("lm 1");
    });

    it("never stores a 206, so a plain GET is never answered with part of a page", async () => {
      const first = await app.http.get("/life/partial").set("Range", "bytes=0-1");
      expect(first.status).to.equal(206);
      const plain = await app.http.get("/life/partial");
      expect(plain.headers["x-cache"]).to.equal("BYPASS");
      expect(calls.partial).to.equal(2);
    });

    it("keeps %FF, %FE and %EF%BF%BD three pages", async () => {
      const bodies = [];
      for (const q of ["%FF", "%FE", "%EF%BF%BD"]) bodies.push(JSON.parse((await app.http.get(`/life/echo?q=${q}`)).text).call);
      expect(bodies).to.deep.equal([1, 2, 3]);
      expect((await app.http.get("/life/echo?q=%FE")).headers["x-cache"]).to.equal("HIT");
    });

    it("bypasses when keyFunc calls doNotCache(req): nothing looked up, nothing stored", async () => {
      await app.http.get("/life/echo?skip=1");
      const again = await app.http.get("/life/echo?skip=1");
      expect(again.headers["x-cache"]).to.equal("BYPASS");
      expect(calls.echo).to.equal(2);
    });

    it("ignores a forged background-refresh marker and never lets an action see it", async () => {
      const first = await app.http.get("/life/echo?q=forge").set(REFRESH_HEADER, "guess");
      expect(JSON.parse(first.text).marker).to.equal(null);
      const hit = await app.http.get("/life/echo?q=forge").set(REFRESH_HEADER, "guess");
      expect(hit.headers["x-cache"], "a forged marker does not force recomputation").to.equal("HIT");
      expect(calls.echo).to.equal(1);
    });
  });
}
