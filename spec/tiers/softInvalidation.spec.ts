import { expect } from "chai";
import { Get, JsonController } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, closeCachePage, configureCachePage, invalidateTag, resetCachePageConfig } from "../../src";
import { ALL_DRIVERS, sleep, startApp, type TestApp } from "../support/apps";
import { REDIS_URL, requireStore, uniqueNamespace } from "../support/stores";

const world = { value: "v1", computed: 0 };

@Service()
@JsonController("/soft")
class SoftController {
  @Get("/swr")
  @CachePage({ timeout: 60, staleWhileRevalidate: 30, keyFunc: () => "/soft/swr", tags: ["soft"] })
  swr() {
    world.computed += 1;
    return { value: world.value };
  }

  @Get("/plain")
  @CachePage({ timeout: 60, keyFunc: () => "/soft/plain", tags: ["soft"] })
  plain() {
    world.computed += 1;
    return { value: world.value };
  }
}

/** Polls `path` until it is a HIT (the background refresh stored the new page), returning it. */
async function untilHit(app: TestApp, path: string): Promise<{ headers: Record<string, string>; body: { value: string } }> {
  for (let i = 0; i < 200; i += 1) {
    const r = await app.http.get(path).expect(200);
    if (r.headers["x-cache"] === "HIT") return r as never;
    await sleep(10);
  }
  throw new Error(`${path} never became a HIT again`);
}

const STORES = [
  { name: "memory", options: () => ({}) },
  { name: "redis with a local tier", options: () => ({ store: REDIS_URL, namespace: uniqueNamespace("soft"), local: { leaseMs: 1000 } }) },
];

describe('invalidateTag(t, { mode: "stale" }) on the Keyv backend (SPEC §3, §9)', function () {
  this.timeout(20000);

  for (const store of STORES) {
    for (const driver of ALL_DRIVERS) {
      describe(`${store.name}, ${driver}`, () => {
        if (store.name !== "memory") requireStore("redis");
        let app: TestApp;
        beforeEach(async () => {
          world.value = "v1";
          world.computed = 0;
          configureCachePage({ backends: { default: { backend: "keyv", options: store.options() } } });
          app = await startApp(driver, [SoftController]);
          await app.http.get("/soft/swr").expect(200);
          await app.http.get("/soft/plain").expect(200);
          expect((await app.http.get("/soft/swr")).headers["x-cache"]).to.equal("HIT");
          expect(world.computed).to.equal(2);
        });
        afterEach(async () => {
          await app.close();
          await closeCachePage();
          resetCachePageConfig();
        });

        it("serves the old page STALE while one refresh runs, then the new one fresh; an action without staleWhileRevalidate misses", async () => {
          world.value = "v2";
          expect(await invalidateTag("soft", { mode: "stale" })).to.equal(0);
          const stale = await app.http.get("/soft/swr").expect(200);
          expect(stale.headers["x-cache"]).to.equal("STALE");
          expect(stale.body).to.deep.equal({ value: "v1" });
          const fresh = await untilHit(app, "/soft/swr");
          expect(fresh.body).to.deep.equal({ value: "v2" });
          // One refresh for the stale page; nothing else ran it.
          expect(world.computed).to.equal(3);

          const plain = await app.http.get("/soft/plain").expect(200);
          expect(plain.headers["x-cache"]).to.equal("MISS");
          expect(plain.body).to.deep.equal({ value: "v2" });
        });

        it("a hard invalidation after a soft one leaves nothing to serve stale", async () => {
          await invalidateTag("soft", { mode: "stale" });
          world.value = "v3";
          await invalidateTag("soft");
          const r = await app.http.get("/soft/swr").expect(200);
          expect(r.headers["x-cache"]).to.equal("MISS");
          expect(r.body).to.deep.equal({ value: "v3" });
        });
      });
    }
  }
});
