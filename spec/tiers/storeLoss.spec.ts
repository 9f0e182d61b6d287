import { createClient } from "@keyv/redis";
import { expect } from "chai";
import { sleep } from "../support/apps";
import { OwnRedis } from "../support/ownRedis";
import { REDIS_URL, requireStore, uniqueNamespace } from "../support/stores";
import { TcpProxy } from "../support/tcpProxy";
import { deleteNamespaceKeys, startTierInstances, stopTierInstances, TierInstance, type TierInstance as Instance } from "../support/tierInstances";
import { GenerationOracle } from "./generationOracle";

// The store loses the leases while instances still serve local hits under them: a Redis restarted
// without persistence, or the leases' key evicted. invalidateTag must not resolve before those
// instances stopped serving what it invalidates (SPEC §3, §9).
describe("two tiers when Redis loses the leases", function () {
  this.timeout(60000);
  requireStore("redis");
  before(function () {
    if (OwnRedis.available()) return;
    if (process.env.CI) throw new Error("redis-server (the binary) is needed in CI to restart a Redis of the test's own");
    console.log("      [skipped] no redis-server binary on this machine");
    this.skip();
  });

  for (const round of [0, 1]) {
    it(`a Redis restarted without its data: no stale page after the next invalidation (round ${round})`, async () => {
      const redis = await OwnRedis.startOnFreePort();
      const namespace = uniqueNamespace("restart");
      const oracle = await GenerationOracle.open(REDIS_URL, namespace);
      let instances: Instance[] = [];
      try {
        instances = await startTierInstances(["A", "B", "C"], { redis: redis.url, oracleRedis: REDIS_URL, namespace, leaseMs: 1000, local: true });
        const [a, b, c] = instances;
        for (const i of instances) for (const id of ["1", "2"]) for (let k = 0; k < 2; k += 1) await oracle.read(i, id);
        await sleep(round * 150);
        await redis.kill();
        await redis.start();
        const outcome = await oracle.invalidate(a);
        expect(outcome.ok, JSON.stringify(outcome.body)).to.equal(true);
        for (let k = 0; k < 20; k += 1) {
          await Promise.all([oracle.read(c, "1"), oracle.read(b, "2"), oracle.read(c, "2")]);
          await sleep(50);
        }
        expect(oracle.stale, oracle.stale.join("\n")).to.deep.equal([]);
      } finally {
        await stopTierInstances(instances);
        await oracle.close();
        await redis.kill();
        await deleteNamespaceKeys(REDIS_URL, namespace);
      }
    });
  }

  it("the leases' key evicted while an instance is partitioned: the invalidation waits out the lease", async () => {
    const namespace = uniqueNamespace("evict");
    const oracle = await GenerationOracle.open(REDIS_URL, namespace);
    const target = new URL(REDIS_URL);
    const proxy = await TcpProxy.start({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
    const redis = createClient({ url: REDIS_URL });
    await redis.connect();
    const common = { oracleRedis: REDIS_URL, namespace, leaseMs: 1000, local: true };
    const instances = await Promise.all([
      TierInstance.start({ ...common, name: "C", redis: proxy.url }),
      TierInstance.start({ ...common, name: "A", redis: REDIS_URL }),
    ]);
    const [c, a] = instances;
    try {
      for (const i of instances) for (let k = 0; k < 3; k += 1) await oracle.read(i, "1");
      await sleep(400);
      proxy.pause();
      const leases: string[] = [];
      for await (const keys of redis.scanIterator({ MATCH: `*${namespace}*leases*`, COUNT: 1000 })) leases.push(...keys);
      expect(leases).to.have.length(1);
      await redis.del(leases);
      const outcome = await oracle.invalidate(a);
      expect(outcome.ok, JSON.stringify(outcome.body)).to.equal(true);
      for (let k = 0; k < 5; k += 1) await oracle.read(c, "1");
      expect(oracle.stale, oracle.stale.join("\n")).to.deep.equal([]);
    } finally {
      proxy.resume();
      await stopTierInstances(instances);
      await proxy.close();
      await oracle.close();
      await redis.close();
      await deleteNamespaceKeys(REDIS_URL, namespace);
    }
  });
});
