import { createClient } from "@keyv/redis";
import { expect } from "chai";
import { DEFAULT_VERSION_TIMEOUT } from "../../src/backends/tagVersions";
import { INDEX_SLACK_MS, RedisSurrogateIndex } from "../../src/indexes/redis";
import type { RedisIndexClient } from "../../src/stores/redis/redisClient";
import { tagPart } from "../../src/stores/keyParts";
import { lookupAndStore, redisDriverOf, response } from "../backends/stores/helpers";
import { BackendPool, REDIS_URL, requireStore, storeCase, uniqueNamespace } from "../support/stores";

const plain = (name: string) => ({ name, versioned: false, versionTimeout: DEFAULT_VERSION_TIMEOUT });

describe("RedisSurrogateIndex (sorted sets) on Redis", function () {
  this.timeout(20000);
  requireStore("redis");
  let client: ReturnType<typeof createClient>;
  let prefix: string;
  let index: RedisSurrogateIndex;

  beforeEach(async () => {
    client = createClient({ url: REDIS_URL });
    await client.connect();
    prefix = `${uniqueNamespace("idx")}:`;
    index = new RedisSurrogateIndex({ client, prefix, timeout: 1 });
  });
  afterEach(async () => {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length) await client.unlink(keys);
    await client.close();
  });

  it("lengthens a set's TTL and a member's time, never shortens them", async () => {
    const key = index.keyOf("t");
    await index.add("t", ["a"], 100);
    const first = await client.ttl(key);
    expect(first).to.be.within(100 + INDEX_SLACK_MS / 1000 - 2, 100 + INDEX_SLACK_MS / 1000);
    const scoreA = Number(await client.zScore(key, "a"));

    await index.add("t", ["a", "b"], 5);
    expect(await client.ttl(key), "a shorter add keeps the TTL").to.be.at.least(first - 1);
    expect(Number(await client.zScore(key, "a")), "a shorter add keeps a member's time").to.equal(scoreA);

    await index.add("t", ["c"], 1000);
    expect(await client.ttl(key)).to.be.at.least(1000 + INDEX_SLACK_MS / 1000 - 2);
    expect(Number(await client.zScore(key, "c"))).to.be.above(scoreA);
  });

  it("gives a set the configured minimum lifetime", async () => {
    const withMinimum = new RedisSurrogateIndex({ client, prefix, timeout: 86400 });
    await withMinimum.add("m", ["x"], 10);
    expect(await client.ttl(withMinimum.keyOf("m"))).to.be.above(86000);
  });

  it("trims members whose time has passed as new ones arrive, so a long-lived tag does not grow forever", async () => {
    const key = index.keyOf("old");
    await client.zAdd(
      key,
      Array.from({ length: 50 }, (_, i) => ({ score: 1000 + i, value: `gone-${i}` })),
    );
    await index.add("old", ["fresh"], 60);
    expect(await client.zRange(key, 0, -1)).to.deep.equal(["fresh"]);
  });

  it("replaces foreign data of another type under a set's key instead of failing", async () => {
    await client.set(index.keyOf("foreign"), "not a set");
    await index.add("foreign", ["k"], 60);
    expect(await index.getKeys("foreign")).to.deep.equal(["k"]);
  });

  it("an index entry outlives the cache entry it points to (TTL and member time against the entry's PTTL)", async () => {
    const pool = new BackendPool(storeCase("redis"), "ttl");
    try {
      const backend = pool.open();
      await lookupAndStore(backend, ":/ttl", [plain("ttl-tag")], response("x"), 30);
      const driver = redisDriverOf(backend);
      const c = driver.client as RedisIndexClient & { pTTL(k: string): Promise<number>; zScore(k: string, m: string): Promise<number | null> };
      const entryPttl = await c.pTTL(driver.physicalKey("entries", backend.entryKeyOf(":/ttl")));
      const setKey = driver.physicalKey("index", tagPart("ttl-tag"));
      const setPttl = await c.pTTL(setKey);
      const memberUntil = Number(await c.zScore(setKey, backend.entryKeyOf(":/ttl")));
      expect(entryPttl).to.be.within(29000, 30000);
      expect(setPttl).to.be.above(entryPttl);
      expect(memberUntil).to.be.above(Date.now() + entryPttl);
    } finally {
      await pool.dispose();
    }
  });
});

describe("Redis Cluster", function () {
  this.timeout(30000);
  requireStore("redis-cluster");
  let pool: BackendPool;
  before(() => (pool = new BackendPool(storeCase("redis-cluster"), "slots")));
  after(() => pool.dispose());

  it("spreads entries, sets and versions over every master and never sends a cross-slot command", async () => {
    const backend = pool.open();
    const tags = Array.from({ length: 12 }, (_, i) => plain(`slot-tag-${i}`));
    const n = 300;
    await Promise.all(
      Array.from({ length: n }, (_, i) => lookupAndStore(backend, `:/slot${i}`, [tags[i % 12], tags[(i + 5) % 12], plain("all")], response(`s${i}`))),
    );
    const driver = redisDriverOf(backend);
    if (!driver.cluster) throw new Error("expected a cluster");
    const cluster = driver.client as unknown as { masters: unknown[]; nodeClient(m: unknown): Promise<{ dbSize(): Promise<number> }> };
    const sizes = await Promise.all(cluster.masters.map(async (m) => (await cluster.nodeClient(m)).dbSize()));
    expect(sizes).to.have.length(3);
    for (const size of sizes) expect(size, "every master holds keys").to.be.above(0);

    // A lookup reads an entry and twelve versions living on different nodes.
    const many = await lookupAndStore(backend, ":/many", tags, response("many"));
    expect(Object.keys(many)).to.have.length(12);
    expect((await backend.lookup(":/many", tags)).response?.body.toString()).to.equal("many");

    expect(await backend.invalidateBySurrogate("all")).to.equal(n);
    for (let i = 0; i < n; i += 29) expect((await backend.lookup(`:/slot${i}`, [plain("all")])).response).to.equal(undefined);
    expect(await backend.invalidateBySurrogates(tags.map((t) => t.name))).to.equal(1);
  });

  it("opens from a redis+cluster:// URL and from a KeyvRedis adapter built on createCluster", async () => {
    const { default: KeyvRedis, createCluster } = await import("@keyv/redis");
    const url = storeCase("redis-cluster").store() as string;
    const seeds = url
      .replace(/^redis\+cluster:\/\//, "")
      .split(",")
      .map((h) => ({ url: `redis://${h}` }));
    const cluster = createCluster({ rootNodes: seeds });
    try {
      const viaUrl = pool.open();
      const viaAdapter = pool.open({ store: new KeyvRedis(cluster) });
      expect(viaUrl.stores.kind).to.equal("redis-cluster");
      expect(viaAdapter.stores.kind).to.equal("redis-cluster");
      await lookupAndStore(viaUrl, ":/shared", [plain("shared")], response("shared"));
      expect((await viaAdapter.get(":/shared"))?.body.toString()).to.equal("shared");
      expect(await viaAdapter.invalidateBySurrogate("shared")).to.equal(1);
      expect(await viaUrl.get(":/shared")).to.equal(undefined);
    } finally {
      await cluster.close();
    }
  });
});
