import { expect } from "chai";
import type { KeyvCacheBackend } from "../../src/backends/keyv";
import { TagLimitError } from "../../src/backends/TagLimitError";
import type { TagRef } from "../../src/backends/types";
import { tagPart } from "../../src/stores/keyParts";
import { countPhysical, lookupAndStore, redisDriverOf, response } from "../backends/stores/helpers";
import { BackendPool, requireStore, STORE_CASES, storeCase } from "../support/stores";

const plain = (name: string): TagRef => ({ name, versioned: false, versionTimeout: 864000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The expiry (ms epoch) Keyv recorded for a tag's version. */
async function versionExpiry(backend: KeyvCacheBackend, tag: string): Promise<number> {
  const raw = (await backend.versions.keyv.get(backend.versions.keyOf(tag), { raw: true })) as { expires?: number } | undefined;
  if (typeof raw?.expires !== "number") throw new Error(`no expiry on the version of ${tag}`);
  return raw.expires;
}

for (const sc of STORE_CASES) {
  describe(`space on ${sc.name}`, function () {
    this.timeout(30000);
    requireStore(sc.name);
    let pool: BackendPool;
    let backend: KeyvCacheBackend;
    beforeEach(() => {
      pool = new BackendPool(sc, "space");
      backend = pool.open();
    });
    afterEach(() => pool.dispose());

    it("a plain tag's version lives as long as its longest entry plus a minute: lengthened, never shortened", async () => {
      await lookupAndStore(backend, ":/a", [plain("life")], response("a"), 120);
      const first = await versionExpiry(backend, "life");
      expect(first - Date.now()).to.be.within(175_000, 181_000);
      await lookupAndStore(backend, ":/b", [plain("life")], response("b"), 10);
      expect(await versionExpiry(backend, "life"), "a shorter entry keeps it").to.be.at.least(first);
      await lookupAndStore(backend, ":/c", [plain("life")], response("c"), 600);
      expect((await versionExpiry(backend, "life")) - Date.now()).to.be.within(655_000, 661_000);
      // A tag only looked up (its page never stored) keeps its version for a minute, not ten days.
      await backend.lookup(":/d", [plain("looked-only")]);
      expect((await versionExpiry(backend, "looked-only")) - Date.now()).to.be.at.most(61_000);
    });

    if (sc.shared)
      it("a store writes no version key already known to live long enough, and the others in one round trip where it can", async () => {
        const tags = [plain("w1"), plain("w2")];
        await lookupAndStore(backend, ":/w1", tags, response("1"), 120);
        const driver = backend.stores as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
        const calls: string[] = [];
        for (const name of ["writeVersion", "ensureVersions"]) {
          const original = driver[name];
          if (typeof original === "function") driver[name] = (...args: unknown[]) => (calls.push(name), original.apply(backend.stores, args));
        }
        await lookupAndStore(backend, ":/w2", tags, response("2"), 60);
        expect(calls, "both keys already outlive the new entry by more than half a minute").to.deep.equal([]);
        await lookupAndStore(backend, ":/w3", tags, response("3"), 600);
        expect(calls).to.deep.equal(backend.stores.ensureVersions ? ["ensureVersions"] : ["writeVersion", "writeVersion"]);
        for (const t of tags) expect((await versionExpiry(backend, t.name)) - Date.now()).to.be.within(655_000, 661_000);
        for (const k of [":/w1", ":/w2", ":/w3"]) expect((await backend.lookup(k, tags)).response?.body.toString()).to.equal(k.slice(3));
      });

    it("a versioned tag's version lives its own timeout", async () => {
      const tag: TagRef = { name: `vt-life-${sc.name}`, versioned: true, versionTimeout: 3600 };
      await lookupAndStore(backend, ":/v", [tag], response("v"), 60);
      expect((await versionExpiry(backend, tag.name)) - Date.now()).to.be.within(3_590_000, 3_601_000);
    });

    it("stores a response with maxTags tags, and refuses one more (or a tag over 256 bytes) without storing anything", async () => {
      const tags = Array.from({ length: 64 }, (_, i) => plain(`many-${i}`));
      await lookupAndStore(backend, ":/64", tags, response("64"));
      expect((await backend.get(":/64"))?.body.toString()).to.equal("64");
      const over = [...tags, plain("one-more")];
      let error: unknown;
      await lookupAndStore(backend, ":/65", over, response("65")).catch((e) => (error = e));
      expect(error).to.be.instanceOf(TagLimitError);
      expect((error as TagLimitError).code).to.equal("E_TAG_LIMIT");
      expect((error as Error).message).to.match(/65 tags, more than maxTags \(64\)/);
      expect(await backend.get(":/65")).to.equal(undefined);
      error = undefined;
      await lookupAndStore(backend, ":/long-tag", [plain("é".repeat(129))], response("x")).catch((e) => (error = e));
      expect(error).to.be.instanceOf(TagLimitError);
      expect((error as Error).message).to.match(/258 bytes, more than 256/);
      // The lookup of a response over the limit creates no versions it would never use.
      await backend.lookup(":/66", [...over, plain("and-another")]);
      expect((await backend.versions.read(["and-another"]))["and-another"]).to.equal(undefined);
      const few = pool.open({ maxTags: 2 });
      await lookupAndStore(few, ":/3", tags.slice(0, 3), response("3")).catch((e) => (error = e));
      expect(await few.get(":/3")).to.equal(undefined);
    });

    if (sc.name === "sqlite" || sc.name === "postgres") {
      it("trims expired entries and index memberships as it writes, without prune()", async () => {
        const writer = pool.open({ prune: undefined });
        await Promise.all(Array.from({ length: 300 }, (_, i) => lookupAndStore(writer, `:/old${i}`, [plain("old"), plain(`o${i % 5}`)], response("old"), 0.2)));
        // Expired rows in the index namespace (memberships whose time has passed).
        await Promise.all(Array.from({ length: 300 }, (_, i) => writer.stores.index.set(`=gone:=${i}`, { value: `=:/gone${i}` }, 1)));
        await sleep(400);
        for (let i = 0; i < 400; i++) await lookupAndStore(writer, `:/new${i}`, [plain("new")], response("new"), 60);
        await writer.prune({ maxBatches: 1 }).catch(() => undefined); // waits for a trimming step still running
        const entries = await countPhysical(writer.stores, "entries");
        expect(entries, "expired entries were trimmed").to.be.at.most(400 + 30);
        const index = await countPhysical(writer.stores, "index");
        expect(index, "expired memberships were trimmed").to.be.below(300 + 300 * 3 + 400);
        expect(await writer.stores.index.get("=gone:=1")).to.equal(undefined);
      });
    }
  });
}

describe("space on Redis: one response costs O(body + headers + key + tags)", function () {
  this.timeout(30000);
  requireStore("redis");
  let pool: BackendPool;
  before(() => (pool = new BackendPool(storeCase("redis"), "cost")));
  after(() => pool.dispose());

  it("records a 10 KB key under 64 tags with members of at most 129 bytes: the index costs the same as for a short key", async () => {
    const backend = pool.open();
    const driver = redisDriverOf(backend);
    const client = driver.client as unknown as { memoryUsage(k: string): Promise<number | null>; zRange(k: string, a: number, b: number): Promise<string[]> };
    const indexCost = async (key: string, label: string) => {
      const tags = Array.from({ length: 64 }, (_, i) => plain(`param-${label}-${i}`));
      await lookupAndStore(backend, key, tags, response("x".repeat(100)));
      let bytes = 0;
      for (const tag of tags) {
        const setKey = driver.physicalKey("index", tagPart(tag.name));
        const members = await client.zRange(setKey, 0, -1);
        expect(members).to.deep.equal([backend.entryKeyOf(key)]);
        expect(members[0].length).to.be.at.most(129);
        bytes += (await client.memoryUsage(setKey)) ?? 0;
      }
      return bytes;
    };
    const long = await indexCost(`:/search?q=${"k".repeat(10_000)}`, "long");
    const short = await indexCost(`:/search?q=${"k".repeat(54)}`, "short");
    const entryBytes = (await client.memoryUsage(driver.physicalKey("entries", backend.entryKeyOf(`:/search?q=${"k".repeat(10_000)}`)))) ?? 0;
    console.log(`      64 tags: index ${long} B for a 10 KB key, ${short} B for a 65-byte key; the entry itself ${entryBytes} B`);
    expect(long - short, "the index never repeats the key per tag").to.be.at.most(64 * 16);
  });
});
