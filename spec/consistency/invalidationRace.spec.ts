import { expect } from "chai";
import { Get, JsonController } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, configureCachePage, getCacheBackend, invalidateTag, resetCachePageConfig, versioned } from "../../src";
import type { KeyvCacheBackend } from "../../src/backends/keyv";
import { DRIVERS, startApp, type TestApp } from "../support/apps";
import { requireStore, STORE_CASES, uniqueNamespace } from "../support/stores";
import { deferred, watchStores, type Deferred } from "./support";

/** The data the actions read; the test changes it while a computation is held at the gate. */
const world = { value: "old", computations: 0 };
let gate: Deferred | undefined;
let entered: Deferred | undefined;

async function compute(): Promise<{ value: string }> {
  const seen = world.value;
  world.computations += 1;
  entered?.resolve();
  if (gate) await gate.promise;
  return { value: seen };
}

@Service()
@JsonController("/race")
class RaceController {
  @Get("/plain")
  @CachePage({ timeout: 60, keyFunc: () => "race-plain", tags: ["race-plain"] })
  plain() {
    return compute();
  }

  @Get("/versioned")
  @CachePage({ timeout: 60, keyFunc: () => "race-versioned", tags: [versioned("race-versioned")] })
  versionedAction() {
    return compute();
  }
}

const KINDS = [
  { kind: "plain", path: "/race/plain", tag: "race-plain" },
  { kind: "versioned", path: "/race/versioned", tag: "race-versioned" },
] as const;

for (const storeCase of STORE_CASES) {
  describe(`invalidateTag racing a miss, end to end, on ${storeCase.name}`, function () {
    this.timeout(20000);
    requireStore(storeCase.name);
    let namespace: string;
    beforeEach(() => {
      namespace = uniqueNamespace(`race-${storeCase.name}`);
      configureCachePage({ backends: { default: { backend: "keyv", options: { store: storeCase.store(), namespace } } } });
    });
    afterEach(async () => {
      gate = undefined;
      entered = undefined;
      await resetCachePageConfig();
      await storeCase.clear(namespace);
    });

    for (const driver of DRIVERS) {
      for (const { kind, path, tag } of KINDS) {
        it(`${driver}, ${kind} tag: a response computed before invalidateTag resolved is never served after it`, async () => {
          const backend = getCacheBackend() as KeyvCacheBackend;
          const stores = watchStores(backend);
          const app: TestApp = await startApp(driver, [RaceController]);
          try {
            // Warm entry with the old data.
            world.value = "old";
            expect((await app.http.get(path)).body.value).to.equal("old");
            await stores.settled(1);
            const warm = await app.http.get(path);
            expect(warm.headers["x-cache"]).to.equal("HIT");

            // A miss that reads the old data and is held before it stores.
            await invalidateTag(tag);
            gate = deferred();
            entered = deferred();
            const slow = app.http.get(path).then((r) => r);
            await entered.promise;

            // Meanwhile the data changes and the invalidation resolves.
            world.value = "new";
            await invalidateTag(tag);

            // The held computation finishes and stores its (old) response.
            gate.resolve();
            gate = undefined;
            const held = await slow;
            expect(held.body.value, "the held request itself began before the call: it may get old data").to.equal("old");
            await stores.settled(2);
            expect(stores.count(), "the held response was stored (with the versions it saw)").to.be.at.least(2);

            // Every request from now on gets the new data.
            const after = await app.http.get(path);
            expect(after.body.value).to.equal("new");
            expect(after.headers["x-cache"]).to.equal("MISS");
            await stores.settled(3);
            const again = await app.http.get(path);
            expect(again.body.value).to.equal("new");
            expect(again.headers["x-cache"]).to.equal("HIT");
          } finally {
            gate?.resolve();
            await app.close();
          }
        });
      }
    }
  });
}
