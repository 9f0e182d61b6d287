import { expect } from "chai";
import { Get, JsonController } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, configureCachePage, getCacheBackend, invalidateTag, resetCachePageConfig, versioned } from "../../src";
import type { KeyvCacheBackend } from "../../src/backends/keyv";
import { startApp, type TestApp } from "../support/apps";
import { requireStore, STORE_CASES, uniqueNamespace } from "../support/stores";
import { watchStores } from "./support";

const world = { value: "v0" };

// The same page served by two app instances, each through its own backend object ("a" / "b"):
// like two processes sharing one store.
@Service()
@JsonController("/shared")
class InstanceAController {
  @Get("/plain")
  @CachePage({ timeout: 60, keyFunc: () => "shared-plain", tags: ["shared-plain"], backend: "a" })
  plain() {
    return { value: world.value };
  }

  @Get("/versioned")
  @CachePage({ timeout: 60, keyFunc: () => "shared-versioned", tags: [versioned("shared-versioned")], backend: "a" })
  versionedAction() {
    return { value: world.value };
  }
}

@Service()
@JsonController("/shared")
class InstanceBController {
  @Get("/plain")
  @CachePage({ timeout: 60, keyFunc: () => "shared-plain", tags: ["shared-plain"], backend: "b" })
  plain() {
    return { value: world.value };
  }

  @Get("/versioned")
  @CachePage({ timeout: 60, keyFunc: () => "shared-versioned", tags: [versioned("shared-versioned")], backend: "b" })
  versionedAction() {
    return { value: world.value };
  }
}

for (const storeCase of STORE_CASES.filter((c) => c.shared)) {
  describe(`two app instances on one ${storeCase.name} store`, function () {
    this.timeout(20000);
    requireStore(storeCase.name);
    let namespace: string;
    let one: TestApp;
    let two: TestApp;

    beforeEach(async () => {
      namespace = uniqueNamespace(`two-${storeCase.name}`);
      const options = { store: storeCase.store(), namespace };
      configureCachePage({ backends: { a: { backend: "keyv", options }, b: { backend: "keyv", options } } });
      one = await startApp("express", [InstanceAController]);
      two = await startApp("koa", [InstanceBController]);
    });
    afterEach(async () => {
      await Promise.all([one.close(), two.close()]);
      await resetCachePageConfig();
      await storeCase.clear(namespace);
    });

    for (const kind of ["plain", "versioned"] as const) {
      it(`${kind} tag: an invalidation through either instance is seen by the other at once`, async () => {
        const a = getCacheBackend("a") as KeyvCacheBackend;
        const b = getCacheBackend("b") as KeyvCacheBackend;
        expect(a).to.not.equal(b);
        const storedA = watchStores(a);
        const storedB = watchStores(b);
        const path = `/shared/${kind}`;
        const tag = `shared-${kind}`;

        world.value = "v1";
        expect((await one.http.get(path)).body.value).to.equal("v1");
        await storedA.settled(1);
        const shared = await two.http.get(path);
        expect(shared.body.value, "instance two reads what instance one stored").to.equal("v1");
        expect(shared.headers["x-cache"]).to.equal("HIT");

        world.value = "v2";
        await invalidateTag(tag, "a");
        const afterA = await two.http.get(path);
        expect(afterA.body.value).to.equal("v2");
        expect(afterA.headers["x-cache"]).to.equal("MISS");
        await storedB.settled(1);
        expect((await one.http.get(path)).headers["x-cache"]).to.equal("HIT");

        world.value = "v3";
        await invalidateTag(tag, "b");
        const afterB = await one.http.get(path);
        expect(afterB.body.value).to.equal("v3");
        expect(afterB.headers["x-cache"]).to.equal("MISS");
        await storedA.settled(2);
        expect((await two.http.get(path)).body.value).to.equal("v3");
      });
    }
  });
}
