import { expect } from "chai";
import type { KeyvCacheBackend } from "../../src/backends/keyv";
import type { TagRef } from "../../src/backends/types";
import { entryPart, lockPart, tagPart } from "../../src/stores/keyParts";
import { lookupAndStore, response } from "../backends/stores/helpers";
import { BackendPool, requireStore, STORE_CASES } from "../support/stores";

const plain = (name: string): TagRef => ({ name, versioned: false, versionTimeout: 864000 });

/** Keys a client can produce through a URL: NUL, control bytes, lone surrogates (invalid UTF-8 decoded leniently), huge. */
const HOSTILE_KEYS = [
  ":/?q=\u0000",
  ":/?q=\u0000\u0000",
  ":/?q=\u0001\u001f\u007f",
  ":/?q=\ud800",
  ":/?q=\udbff",
  ":/?q=\udc00",
  ":/?q=\ufffd",
  ":/?q=\ud83d\ude00",
  ":/?q=%00",
  `:/?q=${"x".repeat(100_000)}`,
  `:/?q=${"x".repeat(100_000)}\u0000`,
  `:/?q=${"\ud800".repeat(50_000)}`,
];

describe("key parts", () => {
  it("write a key in clear only when it is short, printable and well-formed; hash it otherwise", () => {
    expect(entryPart(":/products?page=2")).to.equal("=:/products?page=2");
    for (const key of HOSTILE_KEYS.filter((k) => k !== ":/?q=%00" && k !== ":/?q=\ufffd" && k !== ":/?q=\ud83d\ude00")) {
      const part = entryPart(key);
      expect(part, JSON.stringify(key.slice(0, 12))).to.match(/^#[0-9a-f]{64}$/);
    }
  });

  it("never give two different keys, tags or lock names the same part (lone surrogates included)", () => {
    for (const make of [entryPart, (k: string) => tagPart(k), (k: string) => lockPart(k)]) {
      const parts = HOSTILE_KEYS.map((k) => make(k));
      expect(new Set(parts).size).to.equal(HOSTILE_KEYS.length);
    }
  });
});

for (const storeCase of STORE_CASES) {
  describe(`hostile keys on ${storeCase.name}`, function () {
    this.timeout(30000);
    requireStore(storeCase.name);
    let pool: BackendPool;
    let backend: KeyvCacheBackend;
    beforeEach(() => {
      pool = new BackendPool(storeCase, "hostile");
      backend = pool.open();
    });
    afterEach(() => pool.dispose());

    it("stores, serves, invalidates and deletes entries under NUL, invalid UTF-16 and 100 KB keys, each apart from the others", async () => {
      for (const [i, key] of HOSTILE_KEYS.entries()) await lookupAndStore(backend, key, [plain("hostile")], response(`v${i}`));
      for (const [i, key] of HOSTILE_KEYS.entries()) expect((await backend.get(key))?.body.toString(), `key #${i}`).to.equal(`v${i}`);
      expect(await backend.delete(HOSTILE_KEYS[0])).to.equal(true);
      expect(await backend.get(HOSTILE_KEYS[0])).to.equal(undefined);
      expect((await backend.get(HOSTILE_KEYS[1]))?.body.toString()).to.equal("v1");
      expect(await backend.invalidateBySurrogate("hostile")).to.equal(HOSTILE_KEYS.length - 1);
      for (const key of HOSTILE_KEYS) expect(await backend.get(key)).to.equal(undefined);
    });

    it("takes tags and lock names made of the same bytes without a store error", async () => {
      const tags = ["t\u0000", "t\ud800", "t\udc00", `t${"y".repeat(250)}`].map(plain);
      await lookupAndStore(backend, ":/tagged", tags, response("tagged"));
      expect((await backend.lookup(":/tagged", tags)).response?.body.toString()).to.equal("tagged");
      expect(await backend.invalidateBySurrogate("t\ud800")).to.equal(1);
      expect(await backend.invalidateBySurrogate("t\udc00")).to.equal(0);
      const token = await backend.acquireLock(`lock:${HOSTILE_KEYS[3]}`, 5000);
      if (token !== undefined) {
        expect(token).to.be.a("string");
        expect(await backend.acquireLock(`lock:${HOSTILE_KEYS[4]}`, 5000), "another name, another lock").to.be.a("string");
        await backend.releaseLock(`lock:${HOSTILE_KEYS[3]}`, token as string);
      }
    });
  });
}
