import { expect } from "chai";
import { seededRandom } from "../consistency/support";
import { sleep } from "../support/apps";
import { REDIS_URL, requireStore, storeCase, uniqueNamespace } from "../support/stores";
import { deleteNamespaceKeys, startTierInstances, stopTierInstances, type TierInstance } from "../support/tierInstances";
import { GenerationOracle, took } from "./generationOracle";

// With the local tier (SPEC §9) by default; LOCAL=0 runs these on the shared store alone.
const LOCAL = process.env.LOCAL !== "0";
const LEASE_MS = 1000;
const RUN_MS = Number(process.env.TIER_RUN_MS ?? 4000);
const PAGES = ["1", "2", "3", "4"];
const MODE = LOCAL ? `local tier, leaseMs ${LEASE_MS}` : "shared store only";

function seedOf(): number {
  return process.env.SEED ? Number(process.env.SEED) : Math.floor(Math.random() * 2 ** 31);
}

/**
 * Random reads of random pages on random instances, and invalidations of "gen" (and sometimes of
 * one page's tag) through random instances, for `RUN_MS`. Every choice comes from `seed`; the
 * interleaving is whatever the processes make of it.
 */
async function randomizedRun(instances: TierInstance[], oracle: GenerationOracle, seed: number): Promise<void> {
  const pick = <T>(random: () => number, items: T[]) => items[Math.floor(random() * items.length)];
  const until = Date.now() + RUN_MS;
  const reader = async (worker: number) => {
    const random = seededRandom(seed + worker);
    while (Date.now() < until) {
      await oracle.read(pick(random, instances), pick(random, PAGES));
      if (random() < 0.3) await sleep(Math.floor(random() * 10));
    }
  };
  const invalidator = async (worker: number) => {
    const random = seededRandom(seed + 100 + worker);
    while (Date.now() < until) {
      await sleep(20 + Math.floor(random() * 100));
      const by = pick(random, instances);
      await oracle.invalidate(by, random() < 0.85 ? "gen" : `page-${pick(random, PAGES)}`);
    }
  };
  await Promise.all([...[0, 1, 2, 3].map(reader), ...[0, 1].map(invalidator)]);
}

function summary(oracle: GenerationOracle, seed: number): string {
  const gens = oracle.invalidations.filter((r) => r.ok).map(took);
  const sorted = [...gens].sort((a, b) => a - b);
  return (
    `seed ${seed}: ${oracle.reads.length} reads ${JSON.stringify(oracle.cacheLabels())}, ${oracle.invalidations.length} invalidations ` +
    `(p50 ${sorted[Math.floor(sorted.length / 2)] ?? "-"} ms, max ${sorted[sorted.length - 1] ?? "-"} ms)`
  );
}

function expectClean(oracle: GenerationOracle, seed: number): void {
  const replay = `(replay: SEED=${seed}${LOCAL ? "" : " LOCAL=0"})`;
  expect(oracle.stale, `stale responses ${replay}:\n${oracle.stale.slice(0, 10).join("\n")}`).to.deep.equal([]);
  expect(oracle.readErrors, `failed reads ${replay}:\n${oracle.readErrors.slice(0, 10).join("\n")}`).to.deep.equal([]);
  const failed = oracle.invalidations.filter((r) => !r.ok);
  expect(failed, `failed invalidations ${replay}: ${JSON.stringify(failed.slice(0, 5))}`).to.deep.equal([]);
  expect(oracle.cacheLabels().HIT ?? 0, `hits ${replay}`).to.be.greaterThan(0);
  expect(oracle.invalidations.filter((r) => r.tag === "gen").length, "invalidations of gen").to.be.greaterThan(10);
}

for (const store of ["redis", "redis-cluster"] as const) {
  describe(`three app processes on one ${store} store (${MODE})`, function () {
    this.timeout(60000);
    requireStore("redis"); // the oracle's counter lives on the single Redis in both cases
    if (store === "redis-cluster") requireStore("redis-cluster");
    let namespace: string;
    let instances: TierInstance[] = [];
    let oracle: GenerationOracle | undefined;

    beforeEach(async () => {
      namespace = uniqueNamespace(`tiers-${store}`);
      oracle = await GenerationOracle.open(REDIS_URL, namespace);
      instances = await startTierInstances(["A", "B", "C"], {
        redis: String(storeCase(store).store()),
        oracleRedis: REDIS_URL,
        namespace,
        leaseMs: LEASE_MS,
        local: LOCAL,
      });
    });
    afterEach(async function () {
      if (this.currentTest?.state === "failed") {
        for (const i of instances) console.log(`      stderr of ${i.name} (pid ${i.pid}):\n${i.recentStderr()}`);
      }
      await stopTierInstances(instances);
      instances = [];
      await oracle?.close();
      await deleteNamespaceKeys(String(storeCase(store).store()), namespace);
      if (store !== "redis") await deleteNamespaceKeys(REDIS_URL, namespace);
    });

    it("serves no stale response under random reads and invalidations through random instances", async () => {
      const seed = seedOf();
      console.log(`      seed ${seed} (replay: SEED=${seed})`);
      await randomizedRun(instances, oracle!, seed);
      console.log(`      ${summary(oracle!, seed)}`);
      expectClean(oracle!, seed);
    });

    if (store !== "redis") return;

    it("resolves an invalidation within leaseMs + 1 s after one instance was killed with SIGKILL", async () => {
      const [a, b, c] = instances;
      for (const instance of instances) for (const id of PAGES) await oracle!.read(instance, id);
      for (const instance of instances) expect((await oracle!.read(instance, "1"))?.xCache).to.equal("HIT");
      const exit = await c.kill();
      expect(exit.signal).to.equal("SIGKILL");

      const first = await oracle!.invalidate(a);
      expect(first.ok, JSON.stringify(first.body)).to.equal(true);
      expect(took(first), `invalidateTag through A after C died (${JSON.stringify(first.body)})`).to.be.at.most(LEASE_MS + 1000);
      for (const instance of [a, b]) for (const id of PAGES) await oracle!.read(instance, id);
      const second = await oracle!.invalidate(b);
      expect(second.ok, JSON.stringify(second.body)).to.equal(true);
      expect(took(second), "the next invalidation, through B").to.be.at.most(LEASE_MS + 1000);
      for (const instance of [a, b]) for (const id of PAGES) await oracle!.read(instance, id);
      console.log(`      after SIGKILL: invalidations took ${took(first)} ms and ${took(second)} ms`);
      expect(oracle!.stale).to.deep.equal([]);
      expect(oracle!.readErrors).to.deep.equal([]);
    });

    it("an instance frozen (SIGSTOP) past its lease serves no stale page when it wakes, even to requests already waiting", async () => {
      const [a, b, c] = instances;
      for (const instance of instances) for (const id of PAGES) await oracle!.read(instance, id);
      for (const id of PAGES) expect((await oracle!.read(c, id))?.xCache, `C warm on /page/${id}`).to.equal("HIT");
      process.kill(c.pid, "SIGSTOP");
      let resumed = false;
      try {
        const record = await oracle!.invalidate(a);
        expect(record.ok, JSON.stringify(record.body)).to.equal(true);
        expect(took(record), "invalidateTag while C is frozen").to.be.at.most(LEASE_MS + 1000);
        // Requests reach C's sockets while it is frozen; it handles them the moment it wakes, before any timer.
        const waiting = PAGES.map((id) => oracle!.read(c, id));
        await sleep(100);
        process.kill(c.pid, "SIGCONT");
        resumed = true;
        await Promise.all(waiting);
        for (const id of PAGES) await oracle!.read(c, id);
        const frozenFor = Math.round(record.resolvedAt - record.calledAt);
        console.log(
          `      invalidation while C was frozen took ${frozenFor} ms; C after waking: ${JSON.stringify(oracle!.cacheLabels(oracle!.reads.filter((r) => r.instance === "C" && r.startedAt > record.resolvedAt)))}`,
        );
      } finally {
        if (!resumed) process.kill(c.pid, "SIGCONT");
      }
      for (const instance of [a, b]) for (const id of PAGES) await oracle!.read(instance, id);
      expect(oracle!.stale, `stale responses:\n${oracle!.stale.join("\n")}`).to.deep.equal([]);
      expect(oracle!.readErrors).to.deep.equal([]);
    });

    it("stops with SIGTERM by itself after closeCachePage(), and the others go on invalidating", async () => {
      const [a, b, c] = instances;
      for (const instance of instances) await oracle!.read(instance, "1");
      const exit = await c.stop();
      expect(exit, `C's exit (stderr: ${c.recentStderr()})`).to.deep.equal({ code: 0, signal: null });
      const record = await oracle!.invalidate(a);
      expect(record.ok, JSON.stringify(record.body)).to.equal(true);
      expect(took(record)).to.be.at.most(LEASE_MS + 1000);
      for (const instance of [a, b]) await oracle!.read(instance, "1");
      expect(oracle!.stale).to.deep.equal([]);
    });
  });
}
