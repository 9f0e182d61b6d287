import { expect } from "chai";
import { performance } from "node:perf_hooks";
import { Get, JsonController, Param } from "routing-controllers";
import { Service } from "typedi";
import {
  CachePage,
  closeCachePage,
  configureCachePage,
  getCacheBackend,
  invalidateTag,
  invalidateTags,
  KeyvCacheBackend,
  resetCachePageConfig,
} from "../../src";
import { ALL_DRIVERS, startApp, type TestApp } from "../support/apps";
import { requireStore, REDIS_URL, uniqueNamespace } from "../support/stores";

let computed = 0;

@Service()
@JsonController("/tier")
class TierController {
  @Get("/:id")
  @CachePage({ timeout: 60, keyFunc: (r) => `/tier/${String(r.params.id)}`, tags: ["tier-all", (r) => `tier-${String(r.params.id)}`], backend: "a" })
  page(@Param("id") id: string) {
    computed += 1;
    return { id, computed };
  }
}

@Service()
@JsonController("/tier")
class TierControllerB {
  @Get("/:id")
  @CachePage({ timeout: 60, keyFunc: (r) => `/tier/${String(r.params.id)}`, tags: ["tier-all", (r) => `tier-${String(r.params.id)}`], backend: "b" })
  page(@Param("id") id: string) {
    computed += 1;
    return { id, computed };
  }
}

async function leasesHeld(names: string[]): Promise<void> {
  const until = performance.now() + 3000;
  for (;;) {
    if (names.every((n) => (getCacheBackend(n) as KeyvCacheBackend).tierLink?.serving())) return;
    if (performance.now() > until) throw new Error("leases not taken within 3 s");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("an app on two tiers (SPEC §9), through real HTTP", function () {
  this.timeout(20000);
  requireStore("redis");

  for (const driver of ALL_DRIVERS) {
    describe(driver, () => {
      let one: TestApp;
      let two: TestApp;

      beforeEach(async () => {
        const options = { store: REDIS_URL, namespace: uniqueNamespace(`tierapp-${driver}`), local: { leaseMs: 1000 } };
        configureCachePage({ backends: { a: { backend: "keyv", options }, b: { backend: "keyv", options } } });
        one = await startApp(driver, [TierController]);
        two = await startApp(driver === "koa" ? "express" : "koa", [TierControllerB]);
        await leasesHeld(["a", "b"]);
      });
      afterEach(async () => {
        await one.close();
        await two.close();
        await closeCachePage();
        resetCachePageConfig();
      });

      it("serves hits from the local tier, and no instance serves a page invalidated on another once invalidateTag resolved", async () => {
        const first = await one.http.get("/tier/1").expect(200);
        expect(first.headers["x-cache"]).to.equal("MISS");
        const hit = await one.http.get("/tier/1").expect(200);
        expect(hit.headers["x-cache"]).to.equal("HIT");
        expect(hit.body).to.deep.equal(first.body);
        // The local tier answered: the store was not asked (the synchronous path).
        const a = getCacheBackend("a") as KeyvCacheBackend;
        expect(a.localTier!.size).to.equal(1);
        // The other instance reads it from Redis once, then locally.
        const remote = await two.http.get("/tier/1").expect(200);
        expect(remote.headers["x-cache"]).to.equal("HIT");
        expect(remote.body).to.deep.equal(first.body);
        expect((getCacheBackend("b") as KeyvCacheBackend).localTier!.size).to.equal(1);

        expect(await invalidateTag("tier-1", "b")).to.equal(1);
        const after = await one.http.get("/tier/1").expect(200);
        expect(after.headers["x-cache"]).to.equal("MISS");
        expect(after.body.computed).to.be.greaterThan(first.body.computed);
        const afterTwo = await two.http.get("/tier/1").expect(200);
        expect(afterTwo.body).to.deep.equal(after.body);
      });

      it("invalidateTags across both, and a tag shared by many pages", async () => {
        for (const id of ["1", "2", "3"]) {
          await one.http.get(`/tier/${id}`).expect(200);
          await two.http.get(`/tier/${id}`).expect(200);
          expect((await one.http.get(`/tier/${id}`)).headers["x-cache"]).to.equal("HIT");
        }
        await invalidateTags(["tier-all"], "a");
        for (const id of ["1", "2", "3"]) {
          expect((await two.http.get(`/tier/${id}`)).headers["x-cache"]).to.equal("MISS");
          expect((await one.http.get(`/tier/${id}`)).headers["x-cache"]).to.equal("HIT");
        }
      });
    });
  }
});
