import { expect } from "chai";
import { Keyv } from "keyv";
import { KeyvCacheBackend } from "../../src/backends/keyv";
import { KeyvSurrogateIndex } from "../../src/indexes/keyv";
import { tagPart } from "../../src/stores/keyParts";

/** A Keyv adapter the cache knows nothing about (think of a document store): strings in a Map. */
class OtherAdapter {
  readonly data = new Map<string, string>();
  namespace?: string;
  opts = { dialect: "other" };
  on() {
    return this;
  }
  async get(key: string) {
    return this.data.get(key);
  }
  async set(key: string, value: string) {
    this.data.set(key, value);
  }
  async delete(key: string) {
    return this.data.delete(key);
  }
  async clear() {
    this.data.clear();
  }
}

describe("KeyvSurrogateIndex", () => {
  it("on an unknown adapter keeps one record per tag and loses no concurrent add within the process", async () => {
    const index = new KeyvSurrogateIndex(new Keyv({ store: new OtherAdapter() as never, namespace: "x:index" }));
    expect(index.strategy).to.equal("keyv-record");
    await Promise.all(Array.from({ length: 200 }, (_, i) => index.add("t", [`:/k${i}`], 60)));
    expect(new Set(await index.getKeys("t")).size).to.equal(200);
    const drained: string[] = [];
    await index.drain("t", async (keys) => void drained.push(...keys));
    expect(drained).to.have.length(200);
    expect(await index.getKeys("t")).to.deep.equal([]);
  });

  it("a backend on an unknown adapter caches, invalidates, and says it has no cross-process lock", async () => {
    const backend = new KeyvCacheBackend({ store: new OtherAdapter() as never, namespace: "other" });
    expect(backend.stores.kind).to.equal("other");
    const tags = [{ name: "t", versioned: false, versionTimeout: 60 }];
    const { token } = await backend.lookup(":/a", tags);
    await backend.set({
      key: ":/a",
      response: { status: 200, headers: {}, body: Buffer.from("a") },
      timeout: 60,
      surrogateKeys: ["t"],
      tags,
      token,
      metadata: {},
    });
    expect((await backend.lookup(":/a", tags)).response?.body.toString()).to.equal("a");
    expect(await backend.invalidateBySurrogate("t")).to.equal(1);
    expect((await backend.lookup(":/a", tags)).response).to.equal(undefined);
    expect(await backend.acquireLock("lock:/a", 1000)).to.equal(undefined);
    expect((await backend.prune()).complete).to.equal(true);
  });

  it("in memory trims members whose time has passed as new ones arrive", async () => {
    const map = new Map<string, unknown>();
    const keyv = new Keyv({ store: map, namespace: "m:index" });
    const index = new KeyvSurrogateIndex(keyv);
    expect(index.strategy).to.equal("native");
    await index.add("t", ["old-1", "old-2"], 60);
    const record = map.get(keyv._getKeyPrefix(tagPart("t"))) as { value: Map<string, number> };
    for (const key of record.value.keys()) record.value.set(key, Date.now() - 1);
    await index.add("t", ["new"], 60);
    expect(await index.getKeys("t")).to.deep.equal(["new"]);
  });
});

describe("KeyvCacheBackend on an adapter without capabilities", () => {
  it("records a versioned tag in the store, so another backend object invalidates it with the new version", async () => {
    const adapter = new OtherAdapter();
    const one = new KeyvCacheBackend({ store: adapter as never, namespace: "other-v" });
    const two = new KeyvCacheBackend({ store: adapter as never, namespace: "other-v" });
    const tags = [{ name: `undeclared-${Date.now()}`, versioned: true, versionTimeout: 3600 }];
    const { token } = await one.lookup(":/v", tags);
    await one.set({
      key: ":/v",
      response: { status: 200, headers: {}, body: Buffer.from("v") },
      timeout: 60,
      surrogateKeys: [tags[0].name],
      tags,
      token,
      metadata: {},
    });
    const version = await two.invalidateBySurrogate(tags[0].name);
    expect(version).to.be.above((token as Record<string, number>)[tags[0].name]);
    expect((await one.lookup(":/v", tags)).response).to.equal(undefined);
  });
});
