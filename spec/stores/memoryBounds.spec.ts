import { expect } from "chai";
import { KeyvCacheBackend } from "../../src/backends/keyv";
import type { TagRef } from "../../src/backends/types";
import { MemoryStore } from "../../src/stores/memory/MemoryStore";
import { MemoryStoreDriver } from "../../src/stores/memory/MemoryStoreDriver";
import { tagPart } from "../../src/stores/keyParts";
import { response } from "../backends/stores/helpers";

const plain = (name: string): TagRef => ({ name, versioned: false, versionTimeout: 864000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function memoryStoreOf(backend: KeyvCacheBackend): MemoryStore {
  const driver = backend.stores;
  if (!(driver instanceof MemoryStoreDriver) || !(driver.map instanceof MemoryStore)) throw new Error("expected the default memory store");
  return driver.map;
}

/** What a flood of distinct URLs does: a miss (lookup) and a store per URL, each with a tag from its query string. */
async function flood(backend: KeyvCacheBackend, n: number, from: number, timeout: number, body: Buffer): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const key = `:/search?q=${i}`;
    const tags = [plain("search"), plain(`param-q-${i}`)];
    const { token } = await backend.lookup(key, tags);
    await backend.set({
      key,
      response: { status: 200, headers: { "content-type": "text/html" }, body },
      timeout,
      surrogateKeys: tags.map((t) => t.name),
      tags,
      token,
      metadata: {},
    });
  }
}

describe("the in-memory store's bound", function () {
  this.timeout(120_000);

  it("keeps 200,000 distinct URLs (entries, versions and index records) within maxBytes, evicting the least recently used", async () => {
    const maxBytes = 4 * 1024 * 1024;
    const backend = new KeyvCacheBackend({ maxBytes });
    const store = memoryStoreOf(backend);
    const body = Buffer.alloc(512, "x");
    let highest = 0;
    for (let i = 0; i < 200_000; i += 10_000) {
      await flood(backend, 10_000, i, 600, body);
      highest = Math.max(highest, store.calculatedSize);
      expect(store.calculatedSize).to.be.at.most(maxBytes);
    }
    const before = store.size;
    // The newest pages are still served; the oldest went first.
    const last = `:/search?q=${199_999}`;
    expect((await backend.lookup(last, [plain("search"), plain("param-q-199999")])).response?.body.length).to.equal(512);
    expect((await backend.lookup(":/search?q=0", [plain("search"), plain("param-q-0")])).response).to.equal(undefined);
    // The tag every page carries still reaches every live page.
    expect(await backend.invalidateBySurrogate("search")).to.be.above(0);
    expect((await backend.lookup(last, [plain("search"), plain("param-q-199999")])).response).to.equal(undefined);
    console.log(`      accounted ${(highest / 1024 / 1024).toFixed(2)} MiB at most, ${before} values held, bound ${(maxBytes / 1024 / 1024).toFixed(0)} MiB`);
    await backend.close();
  });

  it("reclaims one-second entries soon after they expire, without anyone reading them", async () => {
    const backend = new KeyvCacheBackend();
    const store = memoryStoreOf(backend);
    await flood(backend, 5000, 0, 1, Buffer.alloc(256, "y"));
    const entriesPrefix = backend.entries._getKeyPrefix("");
    const countEntries = () => [...store.keys()].filter((k) => k.startsWith(entriesPrefix)).length;
    expect(countEntries()).to.equal(5000);
    await sleep(1300);
    expect(countEntries(), "expired entries are gone").to.equal(0);
    await backend.close();
  });

  it("an index record dropped for space makes its entries miss instead of outliving their index", async () => {
    const backend = new KeyvCacheBackend({ maxBytes: 256 * 1024 });
    const store = memoryStoreOf(backend);
    const key = ":/kept";
    const tags = [plain("victim")];
    const { token } = await backend.lookup(key, tags);
    await backend.set({ key, response: response("kept"), timeout: 600, surrogateKeys: ["victim"], tags, token, metadata: {} });
    const indexKey = backend.stores.index._getKeyPrefix(tagPart("victim"));
    // Keep the entry recently used while a flood pushes the (untouched) index record out.
    for (let i = 0; i < 40 && store.has(indexKey); i++) {
      store.get(backend.stores.entries._getKeyPrefix(backend.entryKeyOf(key)));
      await flood(backend, 50, i * 50, 600, Buffer.alloc(512, "z"));
    }
    expect(store.has(indexKey), "the index record was evicted").to.equal(false);
    expect((await backend.lookup(key, tags)).response, "its entry is no longer served").to.equal(undefined);
    await backend.close();
  });

  it("refuses a maxBytes that is not a whole number of bytes, saying what to give", () => {
    expect(() => new KeyvCacheBackend({ maxBytes: 0.5 })).to.throw(TypeError, /maxBytes must be a whole number of bytes/);
    expect(() => new MemoryStore({ maxBytes: -1 })).to.throw(TypeError, /maxBytes/);
  });
});
