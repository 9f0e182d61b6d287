import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { getCacheBackend } from "../../src/config/configure";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  BaseCacheBackend,
  CacheInvalidationError,
  closeCachePage,
  CompositeBackend,
  configureCachePage,
  invalidateKey,
  invalidateTag,
  invalidateTags,
  Invalidator,
  KeyvCacheBackend,
  resetCachePageConfig,
  VarnishBackend,
  versioned,
  type CachedResponse,
  type CacheEntry,
} from "../../src";
import { registerActionBackend } from "../../src/config/configure";
import { buildStorageKey } from "../../src/keys/storageKey";
import { OwnRedis } from "../support/ownRedis";

const page = (): CachedResponse => ({ status: 200, headers: { "content-type": "text/plain" }, body: Buffer.from("page") });
const entry = (key: string, tags: string[]): CacheEntry => ({
  key: buildStorageKey(undefined, key),
  response: page(),
  timeout: 60,
  surrogateKeys: tags,
  metadata: {},
});
const has = async (backend: BaseCacheBackend, key: string) => (await backend.get(buildStorageKey(undefined, key))) !== undefined;

async function rejection(promise: Promise<unknown>): Promise<{ error: CacheInvalidationError; ms: number }> {
  const started = Date.now();
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).to.be.instanceOf(CacheInvalidationError);
  return { error: outcome.error as CacheInvalidationError, ms: Date.now() - started };
}

/** A TCP server that accepts connections and never answers: a store that hangs. */
async function hangingServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

class SlowBackend extends BaseCacheBackend {
  constructor(
    private readonly steps: number,
    private readonly stepMs: number,
    private readonly reportProgress: boolean,
  ) {
    super();
  }
  async get() {
    return undefined;
  }
  async set() {}
  async delete() {
    return false;
  }
  async invalidateBySurrogate(): Promise<number> {
    for (let i = 0; i < this.steps; i += 1) {
      await new Promise((r) => setTimeout(r, this.stepMs));
      if (this.reportProgress) this.noteStoreProgress();
    }
    return this.steps;
  }
}

describe("invalidateTag / invalidateTags / invalidateKey", function () {
  this.timeout(20_000);
  afterEach(() => resetCachePageConfig());

  describe("without a backend name", () => {
    it("reaches every configured backend, the default included, and returns the sum", async () => {
      configureCachePage({ backends: { a: { backend: "keyv", options: { namespace: "inv-a" } }, b: { backend: "keyv", options: { namespace: "inv-b" } } } });
      const [def, a, b] = [getCacheBackend(), getCacheBackend("a"), getCacheBackend("b")];
      for (const backend of [def, a, b]) await backend.set(entry("p1", ["products"]));
      await a.set(entry("p2", ["products"]));
      expect(await invalidateTag("products")).to.equal(4);
      for (const backend of [def, a, b]) expect(await has(backend, "p1")).to.equal(false);
      expect(await has(a, "p2")).to.equal(false);
    });

    it("reaches a backend instance given to an action, until closeCachePage forgets it", async () => {
      const instance = new KeyvCacheBackend({ namespace: "inv-action" });
      registerActionBackend(instance);
      registerActionBackend(instance); // idempotent
      await instance.set(entry("p", ["t"]));
      expect(await invalidateTag("t")).to.equal(1);
      expect(await has(instance, "p")).to.equal(false);
      await instance.set(entry("p", ["t"]));
      await closeCachePage();
      expect(await invalidateTag("t")).to.equal(0); // forgotten (and closed)
    });

    it("invalidates a part configured under its own name and inside a composite once", async () => {
      let calls = 0;
      class Counting extends BaseCacheBackend {
        async get() {
          return undefined;
        }
        async set() {}
        async delete() {
          return false;
        }
        async invalidateBySurrogate() {
          calls += 1;
          return 1;
        }
      }
      configureCachePage({
        defaultBackend: "site",
        backends: { local: { backend: "keyv" }, edge: { backend: Counting }, site: { backend: "composite", options: { backends: ["local", "edge"] } } },
      });
      expect(await invalidateTag("x")).to.equal(1);
      expect(calls).to.equal(1);
    });

    it("reaches only the named backend when one is given, as a string or { backend }", async () => {
      configureCachePage({ backends: { a: { backend: "keyv", options: { namespace: "inv-n-a" } } } });
      await getCacheBackend().set(entry("p", ["t"]));
      await getCacheBackend("a").set(entry("p", ["t"]));
      expect(await invalidateTag("t", "a")).to.equal(1);
      expect(await has(getCacheBackend(), "p")).to.equal(true);
      expect(await invalidateTag("t", { backend: "default" })).to.equal(1);
      expect(await has(getCacheBackend(), "p")).to.equal(false);
    });

    it("deletes one key (every Vary variant) on every backend with invalidateKey", async () => {
      configureCachePage({ backends: { a: { backend: "keyv", options: { namespace: "inv-k" } } } });
      await getCacheBackend("a").set({ ...entry("ignored", []), key: buildStorageKey("tenant", "/k", 3) });
      expect(await invalidateKey("/k", { prefix: "tenant" })).to.equal(true);
      expect(await getCacheBackend("a").get(buildStorageKey("tenant", "/k", 3))).to.equal(undefined);
      expect(await invalidateKey("/k", { prefix: "tenant" })).to.equal(false);
    });

    it("works the same through the typedi Invalidator", async () => {
      await getCacheBackend().set(entry("p", ["t1", "t2"]));
      const invalidator = new Invalidator();
      expect(await invalidator.invalidateTags(["t1", "t2"])).to.equal(1);
      expect(await invalidator.invalidateKey("p")).to.equal(false);
    });
  });

  describe("results when tags mix plain and versioned", () => {
    it("returns the new version for a versioned tag, and counts each versioned tag bumped as one in invalidateTags", async () => {
      versioned("inv-catalog");
      await getCacheBackend().set(entry("p1", ["inv-plain"]));
      await getCacheBackend().set(entry("p2", ["inv-plain"]));
      const version = await invalidateTag("inv-catalog");
      expect(version).to.be.greaterThan(1e15); // a microsecond clock, never a count
      expect(await invalidateTag("inv-catalog")).to.be.greaterThan(version);
      expect(await invalidateTags(["inv-plain", "inv-catalog"])).to.equal(3); // 2 deleted + 1 version bumped, never a version added to a count
      expect(await invalidateTags(["inv-catalog"])).to.be.greaterThan(1e15); // one tag: what invalidateTag returns
    });
  });

  describe("when a store cannot be reached", () => {
    let redis: OwnRedis;
    before(async function () {
      if (!OwnRedis.available()) this.skip();
      redis = await OwnRedis.startOnFreePort();
    });
    after(() => redis?.kill());

    it("rejects with a CacheInvalidationError within the store timeout + 1 s once Redis is stopped, and after it restarts invalidates again", async () => {
      configureCachePage({ storeTimeoutMs: 200, backends: { redis: { backend: "keyv", options: { store: redis.url, namespace: `inv-down-${Date.now()}` } } } });
      await getCacheBackend("redis").set(entry("p", ["t"]));
      await redis.kill();
      const { error, ms } = await rejection(invalidateTag("t"));
      expect(ms).to.be.below(200 + 1000 + 400);
      expect(error.code).to.equal("ERR_CACHE_INVALIDATION");
      expect(error.backend).to.equal("redis");
      expect(error.tags).to.deep.equal(["t"]);
      expect(error.cause).to.be.instanceOf(Error);
      expect(error.message).to.include('backend "redis"');
      const key = await rejection(invalidateKey("p"));
      expect(key.ms).to.be.below(1600);
      expect(key.error.key).to.equal("p");
      const many = await rejection(invalidateTags(["t", "u"]));
      expect(many.ms).to.be.below(1600);
      await redis.start();
      await new Promise((r) => setTimeout(r, 1500)); // node-redis reconnects
      expect(await invalidateTag("t")).to.be.a("number");
    });

    it("rejects within the store timeout + 1 s against a store that accepts connections and never answers", async () => {
      const hanging = await hangingServer();
      try {
        const backend = new KeyvCacheBackend({ store: `redis://127.0.0.1:${hanging.port}` });
        registerActionBackend(backend);
        configureCachePage({ storeTimeoutMs: 300 });
        const { error, ms } = await rejection(invalidateTag("t"));
        expect(ms).to.be.below(300 + 1000 + 400);
        expect(error.reason).to.equal("timeout");
        expect(error.backend).to.match(/KeyvCacheBackend given to @CachePage/);
        expect(error.message).to.match(/invalidate again once it answers/);
        void backend.close().catch(() => undefined);
      } finally {
        await hanging.close();
      }
    });

    it("still invalidates the reachable backends and says which one failed", async () => {
      const hanging = await hangingServer();
      try {
        configureCachePage({ storeTimeoutMs: 200, backends: { dead: { backend: "keyv", options: { store: `redis://127.0.0.1:${hanging.port}` } } } });
        await getCacheBackend().set(entry("p", ["t"]));
        const { error } = await rejection(invalidateTag("t"));
        expect(error.backend).to.equal("dead");
        expect(error.partial).to.equal(1);
        expect(await has(getCacheBackend(), "p")).to.equal(false);
        void getCacheBackend("dead")
          .close()
          .catch(() => undefined);
      } finally {
        await hanging.close();
      }
    });

    it("keeps waiting while a slow backend reports progress, and gives up on one that does not", async () => {
      configureCachePage({ storeTimeoutMs: 100 });
      const progressing = new SlowBackend(8, 250, true); // 2 s in all, progress every 250 ms
      registerActionBackend(progressing);
      expect(await invalidateTag("t")).to.equal(8);
      await resetCachePageConfig();
      configureCachePage({ storeTimeoutMs: 100 });
      registerActionBackend(new SlowBackend(1, 3000, false));
      const { ms, error } = await rejection(invalidateTag("t"));
      expect(ms).to.be.below(1500);
      expect(error.reason).to.equal("timeout");
    });
  });

  describe('mode "stale"', () => {
    let server: HttpServer;
    let url: string;
    const seen: Array<Record<string, unknown>> = [];
    before(async () => {
      server = createHttpServer((req, res) => {
        seen.push(req.headers);
        res.writeHead(200, { "xkey-purged": "1" }).end();
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    after(() => new Promise((r) => server.close(r)));

    it("soft-purges a CDN backend named with it", async () => {
      configureCachePage({ backends: { cdn: { backend: "varnish", options: { urls: [url] } } } });
      expect(await invalidateTag("products", { backend: "cdn", mode: "stale" })).to.equal(1);
      expect(String(seen.at(-1)!["xkey-softpurge"])).to.match(/^products ccp-b-/);
      expect(seen.at(-1)).to.not.have.property("xkey-purge");
    });

    it("refuses, before invalidating anything, when a backend it must reach cannot mark entries stale", async () => {
      const dir = mkdtempSync(join(tmpdir(), "ccp-stale-"));
      configureCachePage({
        backends: { default: { backend: "keyv", options: { store: `sqlite://${join(dir, "c.db")}` } }, cdn: { backend: "varnish", options: { urls: [url] } } },
      });
      const before = seen.length;
      const { error } = await rejection(invalidateTag("products", { mode: "stale" }));
      expect(error.reason).to.equal("unsupported");
      expect(error.backend).to.equal("default");
      expect(error.message).to.match(/not supported by KeyvCacheBackend here .*not on SQL stores/);
      expect(seen.length).to.equal(before);
      await closeCachePage();
      rmSync(dir, { recursive: true, force: true });
    });

    it("soft-purges through a composite whose parts all can", async () => {
      const composite = new CompositeBackend({ backends: [new VarnishBackend({ urls: [url] })] });
      expect(await composite.invalidateBySurrogatesStale!(["a"])).to.equal(1);
    });
  });

  it("refuses arguments that cannot be tags or targets, saying what to pass", async () => {
    expect(await invalidateTag("  ").catch((e: unknown) => e)).to.be.instanceOf(TypeError);
    const bad = await invalidateTag("t", { mode: "soft" as never }).catch((e: unknown) => e);
    expect(String(bad)).to.match(/mode must be "delete" or "stale"/);
    const notArray = await invalidateTags("t" as never).catch((e: unknown) => e);
    expect(String(notArray)).to.match(/expects an array/);
  });
});
