import { expect } from "chai";
import { Get, JsonController } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, generateCacheKey } from "../../src";
import { ActionCallCounter, CacheAssertionError, cacheOutcomeOf, expectBypass, expectHit, expectMiss } from "../../src/testing";
import { DRIVERS, startApp, type TestApp } from "../support/apps";

const calls = new ActionCallCounter();

@Service()
@JsonController("/testing-helpers")
class HelperController {
  @Get("/cached")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey })
  @calls.counts("cached")
  cached() {
    return { ok: true };
  }

  @Get("/skipped")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey, onlyIf: () => false })
  @calls.counts()
  skipped() {
    return { ok: true };
  }
}

for (const driver of DRIVERS) {
  describe(`custom-cache-page/testing helpers on ${driver}`, () => {
    let app: TestApp;
    before(async () => {
      app = await startApp(driver, [HelperController]);
    });
    after(() => app.close());
    beforeEach(() => calls.reset());

    it("counts the action once for a miss and a hit, and expectHit/expectMiss accept them", async () => {
      const path = `/testing-helpers/cached?driver=${driver}`;
      expectMiss(await app.http.get(path));
      expectHit(await app.http.get(path));
      expect(calls.count("cached")).to.equal(1);
    });

    it("names a decorated method ClassName.method by default and sees bypasses", async () => {
      const res = await app.http.get("/testing-helpers/skipped");
      expectBypass(res);
      expect(cacheOutcomeOf(res)).to.equal("BYPASS");
      expect(calls.count("HelperController.skipped")).to.equal(1);
      expect(calls.count()).to.equal(1);
    });

    it("throws a CacheAssertionError naming the outcome and Cache-Status when it is not a hit", async () => {
      const res = await app.http.get(`/testing-helpers/cached?driver=${driver}&fresh=1`);
      expect(() => expectHit(res)).to.throw(CacheAssertionError, /X-Cache: MISS.*Cache-Status/);
    });
  });
}

describe("expectHit on other response shapes", () => {
  it("reads fetch Headers and plain header records", () => {
    expectHit({ headers: new Headers({ "x-cache": "HIT" }) });
    expectHit({ headers: { "X-Cache": "STALE" } }, { allowStale: true });
    expect(() => expectHit({ headers: {} })).to.throw(/no X-Cache header/);
  });
});
