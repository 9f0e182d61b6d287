import { createClient } from "@keyv/redis";
import { expect } from "chai";
import { encodeEntry } from "../../src/backends/entryCodec";
import { DEFAULT_VERSION_TIMEOUT } from "../../src/backends/tagVersions";
import type { KeyvCacheBackend } from "../../src/backends/keyv";
import { countPhysical, response } from "../backends/stores/helpers";
import { BackendPool, REDIS_URL, requireStore, STORE_CASES } from "../support/stores";

const tag = { name: "big", versioned: false, versionTimeout: DEFAULT_VERSION_TIMEOUT };

/**
 * Stores `n` entries under the tag in bulk (500 entries per setMany, 500 memberships per index
 * add), in the order the backend uses: entries first, then their memberships.
 */
async function fill(backend: KeyvCacheBackend, n: number, prefix: string): Promise<void> {
  const token = (await backend.lookup(`${prefix}-probe`, [tag])).token as Record<string, number>;
  const record = encodeEntry(response("x"), { big: token.big }, {}, backend.stores.inMemory);
  for (let i = 0; i < n; i += 500) {
    const keys = Array.from({ length: Math.min(500, n - i) }, (_, j) => `:${prefix}/${i + j}`);
    await backend.entries.setMany(keys.map((key) => ({ key: backend.entryKeyOf(key), value: record, ttl: 600_000 })));
    await backend.surrogateIndex.add(
      "big",
      keys.map((key) => backend.entryKeyOf(key)),
      600,
    );
  }
}

/** Records the size of every batch the index hands to the backend while draining. */
function recordBatches(backend: KeyvCacheBackend): number[] {
  const sizes: number[] = [];
  const index = backend.surrogateIndex;
  const drain = index.drain.bind(index);
  index.drain = (key, consume) => drain(key, (keys) => (sizes.push(keys.length), consume(keys)));
  return sizes;
}

const N = 20_000;

for (const storeCase of STORE_CASES) {
  describe(`a tag with ${N.toLocaleString("en")} entries on ${storeCase.name}`, function () {
    this.timeout(60000);
    requireStore(storeCase.name);
    let pool: BackendPool;
    before(() => (pool = new BackendPool(storeCase, "big")));
    after(() => pool.dispose());

    it("is invalidated in bounded batches, every entry deleted, new entries kept indexed", async () => {
      const backend = pool.open();
      const t0 = Date.now();
      await fill(backend, N, "big");
      const filled = Date.now() - t0;
      const batches = recordBatches(backend);

      let pingMax = 0;
      let pings = 0;
      let stop = false;
      let pinger: Promise<void> = Promise.resolve();
      if (storeCase.name === "redis") {
        const ping = createClient({ url: REDIS_URL });
        await ping.connect();
        pinger = (async () => {
          while (!stop) {
            const p0 = performance.now();
            await ping.ping();
            pingMax = Math.max(pingMax, performance.now() - p0);
            pings += 1;
            await new Promise((r) => setTimeout(r, 2));
          }
          await ping.close();
        })();
      }
      const t1 = Date.now();
      const invalidation = backend.invalidateBySurrogate("big");
      // Entries stored while the invalidation runs (after its version bump) stay findable.
      await new Promise((r) => setTimeout(r, 20));
      const token = (await backend.lookup(":late-probe", [tag])).token;
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          backend.set({ key: `:late/${i}`, response: response("late"), timeout: 600, surrogateKeys: ["big"], tags: [tag], token, metadata: {} }),
        ),
      );
      const deleted = await invalidation;
      const took = Date.now() - t1;
      stop = true;
      await pinger;

      console.log(
        `      ${storeCase.name}: stored ${N} in ${filled} ms, invalidated in ${took} ms (${Math.round(N / (took / 1000))} entries/s), ` +
          `${batches.length} batches of at most ${Math.max(...batches)}` +
          (storeCase.name === "redis" ? `, slowest of ${pings} concurrent PINGs ${pingMax.toFixed(1)} ms` : ""),
      );
      expect(deleted).to.be.at.least(N);
      expect(Math.max(...batches)).to.be.at.most(500);
      if (storeCase.name === "redis") expect(pingMax, "Redis kept answering other clients").to.be.below(100);
      const left = new Set(await backend.surrogateIndex.getKeys("big"));
      const stored = await countPhysical(backend.stores);
      expect(stored, "only entries stored during the invalidation may remain").to.be.at.most(50);
      expect(left.size).to.be.at.least(stored);
      await backend.invalidateBySurrogate("big");
      expect(await countPhysical(backend.stores)).to.equal(0);
    });
  });
}
