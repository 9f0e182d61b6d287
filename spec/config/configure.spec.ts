import { expect } from "chai";
import {
  BaseCacheBackend,
  CachePageConfigError,
  CompositeBackend,
  configureCachePage,
  getCacheBackend,
  KeyvCacheBackend,
  resetCachePageConfig,
  type CachedResponse,
} from "../../src";

class CountingBackend extends BaseCacheBackend {
  async get(): Promise<CachedResponse | undefined> {
    return undefined;
  }
  async set(): Promise<void> {}
  async delete(): Promise<boolean> {
    return false;
  }
  async invalidateBySurrogate(): Promise<number> {
    return 7;
  }
}

function configError(config: unknown): CachePageConfigError {
  try {
    configureCachePage(config as never);
  } catch (error) {
    expect(error).to.be.instanceOf(CachePageConfigError);
    return error as CachePageConfigError;
  }
  throw new Error("expected a CachePageConfigError");
}

describe("configureCachePage", () => {
  afterEach(() => resetCachePageConfig());

  it("has an in-memory Keyv backend named default when nothing is configured", () => {
    expect(getCacheBackend()).to.be.instanceOf(KeyvCacheBackend);
    expect(getCacheBackend("default")).to.equal(getCacheBackend());
  });

  it("builds named backends, composites by name and custom classes", () => {
    configureCachePage({
      defaultBackend: "both",
      backends: {
        local: { backend: "keyv", options: { namespace: "t1" } },
        custom: { backend: CountingBackend },
        both: { backend: "composite", options: { backends: ["local", "custom"] } },
      },
    });
    const both = getCacheBackend();
    expect(both).to.be.instanceOf(CompositeBackend);
    expect((both as CompositeBackend).backends[0]).to.equal(getCacheBackend("local"));
    expect(getCacheBackend("custom")).to.be.instanceOf(CountingBackend);
  });

  it("names the path of an unknown backend", () => {
    const e = configError({ backends: { cdn: { backend: "akamai" } } });
    expect(e.path).to.equal("backends.cdn.backend");
    expect(e.message).to.match(/unknown backend "akamai"/);
  });

  it("names the path of a missing required option", () => {
    const e = configError({ backends: { both: { backend: "composite", options: {} } } });
    expect(e.path).to.equal("backends.both.options.backends");
    expect(e.message).to.match(/backends is required/);
  });

  it("names the path of a wrong type", () => {
    expect(configError({ defaultBackend: 3 }).path).to.equal("defaultBackend");
    expect(configError({ backends: { a: { backend: "keyv", options: { store: "memcached://x" } } } }).path).to.equal("backends.a.options.store");
    expect(configError({ backends: { a: { backend: "keyv", options: { namespace: 5 } } } }).path).to.equal("backends.a.options.namespace");
    expect(configError({ backends: { a: { backend: "keyv", options: { stroe: "redis://x" } } } }).message).to.match(/unknown option "stroe"/);
    expect(configError({ maxBodySize: -1 }).path).to.equal("maxBodySize");
    expect(configError({ backends: { a: { backend: class NotABackend {} } } }).path).to.equal("backends.a.backend");
  });

  it("finds a cycle among composites and unknown parts", () => {
    const cycle = configError({
      backends: {
        a: { backend: "composite", options: { backends: ["b"] } },
        b: { backend: "composite", options: { backends: ["a"] } },
      },
    });
    expect(cycle.message).to.match(/cycle: a -> b -> a/);
    expect(cycle.path).to.equal("backends.a.options.backends");
    expect(configError({ backends: { a: { backend: "composite", options: { backends: ["nope"] } } } }).path).to.equal("backends.a.options.backends[0]");
  });

  it("rejects a defaultBackend that is not configured", () => {
    expect(configError({ defaultBackend: "main" }).path).to.equal("defaultBackend");
  });

  it("leaves the previous configuration in force when the new one is wrong", () => {
    configureCachePage({ defaultBackend: "custom", backends: { custom: { backend: CountingBackend } } });
    const before = getCacheBackend();
    configError({ defaultBackend: "custom", backends: { custom: { backend: CountingBackend }, bad: { backend: "nope" } } });
    expect(getCacheBackend()).to.equal(before);
  });

  it("reports a backend constructor that throws as a config error on its path", () => {
    class Exploding extends CountingBackend {
      constructor() {
        super();
        throw new Error("no token");
      }
    }
    const e = configError({ backends: { x: { backend: Exploding } } });
    expect(e.path).to.equal("backends.x");
    expect(e.message).to.match(/no token/);
  });
});
