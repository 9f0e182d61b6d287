import { expect } from "chai";
import {
  BackendOptionsError,
  CachePageConfigError,
  CompositeBackend,
  configureCachePage,
  getCacheBackend,
  KeyvCacheBackend,
  resetCachePageConfig,
} from "../../src";
import { FastlyBackend } from "../../src/backends/fastly";
import { NullSurrogateIndex } from "../../src/indexes/null";

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

describe("backend options: one schema for the constructor and configureCachePage", () => {
  afterEach(() => resetCachePageConfig());

  it("refuses maxBytes: -1 by the same rule in new KeyvCacheBackend and in configureCachePage", () => {
    const direct = thrown(() => new KeyvCacheBackend({ maxBytes: -1 })) as BackendOptionsError;
    const configured = thrown(() => configureCachePage({ backends: { x: { backend: "keyv", options: { maxBytes: -1 } } } })) as CachePageConfigError;
    expect(direct).to.be.instanceOf(BackendOptionsError);
    expect(direct).to.be.instanceOf(TypeError);
    expect(direct.path).to.equal("maxBytes");
    expect(direct.message).to.match(/^Invalid KeyvCacheBackend options at maxBytes: maxBytes must be a whole number of bytes, at least 1 \(got -1\)/);
    expect(configured).to.be.instanceOf(CachePageConfigError);
    expect(configured.path).to.equal("backends.x.options.maxBytes");
    expect(configured.problems.map((p) => p.message)).to.deep.equal(direct.problems.map((p) => p.message));
    expect(configured.message).to.include(direct.problems[0].message);
  });

  it("refuses an unknown option in the constructor as configureCachePage does", () => {
    const direct = thrown(() => new KeyvCacheBackend({ stroe: "redis://x" } as never)) as BackendOptionsError;
    expect(direct.message).to.match(/at stroe: unknown option "stroe"/);
    const configured = thrown(() => configureCachePage({ backends: { x: { backend: "keyv", options: { stroe: "redis://x" } } } })) as CachePageConfigError;
    expect(configured.problems.map((p) => p.message)).to.deep.equal(direct.problems.map((p) => p.message));
  });

  it("refuses a CDN backend's bad option with the same message on both paths", () => {
    const direct = thrown(() => new FastlyBackend({ apiToken: "t", serviceId: "s", batchSize: 257 })) as BackendOptionsError;
    const configured = thrown(() =>
      configureCachePage({ backends: { cdn: { backend: "fastly", options: { apiToken: "t", serviceId: "s", batchSize: 257 } } } }),
    ) as CachePageConfigError;
    expect(configured.path).to.equal(`backends.cdn.options.${direct.path}`);
    expect(configured.problems.map((p) => p.message)).to.deep.equal(direct.problems.map((p) => p.message));
  });

  it("accepts instances as options: a Map store, a surrogate index, backend parts", async () => {
    const index = new NullSurrogateIndex();
    const local = new KeyvCacheBackend({ store: new Map(), surrogateIndex: index });
    expect(local.surrogateIndex).to.equal(index);
    const composite = new CompositeBackend({ backends: [local] });
    expect(composite.backends).to.deep.equal([local]);
    await composite.close();
  });

  it("takes a backend instance among a composite's parts in configureCachePage", () => {
    const part = new KeyvCacheBackend();
    configureCachePage({ backends: { local: { backend: "keyv" }, site: { backend: "composite", options: { backends: ["local", part] } } } });
    const site = getCacheBackend("site") as CompositeBackend;
    expect(site.backends[0]).to.equal(getCacheBackend("local"));
    expect(site.backends[1]).to.equal(part);
  });

  it("says new CompositeBackend takes instances when given a name", () => {
    expect(() => new CompositeBackend({ backends: ["local"] } as never)).to.throw(
      BackendOptionsError,
      /backends\[0\]: "local" is a name; new CompositeBackend takes backend instances/,
    );
  });

  it("checks a user class that carries an optionsSchema with that schema, at the config path", () => {
    class Strict extends KeyvCacheBackend {}
    const configured = thrown(() => configureCachePage({ backends: { s: { backend: Strict, options: { maxTags: -1 } } } })) as CachePageConfigError;
    expect(configured).to.be.instanceOf(CachePageConfigError);
    expect(configured.path).to.equal("backends.s.options.maxTags");
    expect(configured.message).to.match(/^Invalid cache configuration at backends\.s\.options\.maxTags: maxTags must be a whole number of tags/);
  });
});
