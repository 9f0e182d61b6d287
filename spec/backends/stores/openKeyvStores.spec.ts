import { expect } from "chai";
import { Keyv } from "keyv";
import { KeyvCacheBackend } from "../../../src/backends/keyv";
import { openKeyvStores, redactUrl, storeKindOfUrl } from "../../../src/backends/openKeyvStores";
import { createRedisClientFromUrl } from "../../../src/stores/redis/redisClient";
import { KeyvSurrogateIndex } from "../../../src/indexes/keyv";
import { RedisSurrogateIndex } from "../../../src/indexes/redis";
import { POSTGRES_URL, REDIS_URL, requireStore } from "../../support/stores";

describe("openKeyvStores", () => {
  it("knows the URL schemes, cluster ones included", () => {
    expect(storeKindOfUrl("redis://h:1")).to.equal("redis");
    expect(storeKindOfUrl("rediss://h:1")).to.equal("redis");
    expect(storeKindOfUrl("redis+cluster://h:1,h:2")).to.equal("redis");
    expect(storeKindOfUrl("REDISS+CLUSTER://h:1")).to.equal("redis");
    expect(storeKindOfUrl("sqlite:///tmp/x.db")).to.equal("sqlite");
    expect(storeKindOfUrl("postgresql://u@h/db")).to.equal("postgres");
    expect(storeKindOfUrl("mongodb://h")).to.equal(undefined);
  });

  it("says which schemes it takes, without the password, for an unknown one", () => {
    expect(() => openKeyvStores("mongodb://user:secret@h/db", "ccp")).to.throw(
      TypeError,
      /mongodb:\/\/user:\*\*\*@h\/db" is not supported: use redis:\/\/, rediss:\/\/, redis\+cluster:\/\//,
    );
    expect(redactUrl("redis://:pw@h:1")).to.equal("redis://:***@h:1");
  });

  it("rejects a namespace that could collide with a key part, saying what to use", () => {
    expect(() => openKeyvStores(undefined, "a:b")).to.throw(TypeError, /namespace "a:b" is not valid: use letters, digits/);
    expect(() => openKeyvStores(undefined, "=x")).to.throw(TypeError, /not valid/);
  });

  it("rejects a malformed cluster URL with an example of the right form", () => {
    expect(() => createRedisClientFromUrl("redis+cluster://")).to.throw(TypeError, /redis\+cluster:\/\/\[user:password@\]host:port\[,host:port…\]/);
    expect(() => createRedisClientFromUrl("redis+cluster://h:1/0")).to.throw(TypeError, /no database number/);
    expect(() => createRedisClientFromUrl("redis+cluster://h")).to.throw(TypeError, /host:port/);
  });

  it("builds a cluster client with every listed seed and the credentials", () => {
    const cluster = createRedisClientFromUrl("redis+cluster://ann:p%40ss@127.0.0.1:7101,127.0.0.1:7102") as unknown as {
      _options: { rootNodes: Array<{ url: string }>; defaults: { username?: string; password?: string } };
    };
    expect(cluster._options.rootNodes.map((n) => n.url)).to.deep.equal(["redis://127.0.0.1:7101", "redis://127.0.0.1:7102"]);
    expect(cluster._options.defaults).to.include({ username: "ann", password: "p@ss" });
  });

  it("keeps the three namespaces in one Map for the in-memory store, and a given Map is shared", async () => {
    const map = new Map();
    const a = new KeyvCacheBackend({ store: map, namespace: "m1" });
    const b = new KeyvCacheBackend({ store: new Keyv({ store: map }), namespace: "m1" });
    expect(a.stores.kind).to.equal("memory");
    expect((a.surrogateIndex as KeyvSurrogateIndex).strategy).to.equal("native");
    await a.set({ key: ":/x", response: { status: 200, headers: {}, body: Buffer.from("x") }, timeout: 60, surrogateKeys: ["t"], metadata: {} });
    expect((await b.get(":/x"))?.body.toString()).to.equal("x");
    expect([...map.keys()].every((k) => /^m1:(entries|index|versions):[=#]/.test(String(k)))).to.equal(true);
  });

  it("validates prune and surrogateIndex options with messages that say what to change", () => {
    expect(() => new KeyvCacheBackend({ prune: { every: -1 } })).to.throw(
      TypeError,
      /prune\.every must be a whole number of stores \(0 turns sampled pruning off/,
    );
    expect(() => new KeyvCacheBackend({ prune: { batchSize: 0 } })).to.throw(TypeError, /prune\.batchSize must be a whole number >= 1/);
    expect(() => new KeyvCacheBackend({ surrogateIndex: {} as never })).to.throw(TypeError, /instance of a BaseSurrogateIndex subclass/);
    expect(() => new RedisSurrogateIndex({ client: {} })).to.throw(TypeError, /node-redis v5 client or cluster/);
  });

  describe("on real stores", () => {
    requireStore("redis");
    requireStore("postgres");

    it("picks the index strategy by store, and closes only what it opened", async () => {
      const redis = new KeyvCacheBackend({ store: REDIS_URL, namespace: "open-test" });
      const sqlite = new KeyvCacheBackend({ store: "sqlite://:memory:", namespace: "open-test" });
      const pg = new KeyvCacheBackend({ store: POSTGRES_URL, namespace: "open-test" });
      try {
        expect([redis.stores.kind, sqlite.stores.kind, pg.stores.kind]).to.deep.equal(["redis", "sqlite", "postgres"]);
        for (const b of [redis, sqlite, pg]) expect((b.surrogateIndex as KeyvSurrogateIndex).strategy).to.equal("native");
        // Each Postgres backend has a pool of its own: closing one leaves the other working.
        const other = new KeyvCacheBackend({ store: POSTGRES_URL, namespace: "open-test" });
        await other.get(":/warm");
        await other.close();
        expect(await pg.get(":/nothing")).to.equal(undefined);
      } finally {
        await Promise.all([redis.close(), sqlite.close(), pg.close()]);
      }
    });
  });
});
