import { expect } from "chai";
import { performance } from "node:perf_hooks";
import { Registry } from "prom-client";
import {
  CachePageConfigError,
  closeCachePage,
  CompositeBackend,
  configureCachePage,
  getCacheBackend,
  invalidateTag,
  KeyvCacheBackend,
  resetCachePageConfig,
  subscribeCachePage,
  type CachedResponse,
  type CacheEntry,
  type CachePageTierEvent,
  type TagRef,
} from "../../src";
import { registerCachePageMetrics } from "../../src/prometheus";
import { BackendOptionsError } from "../../src/config/errors";
import { buildStorageKey } from "../../src/keys/storageKey";
import { LocalTier } from "../../src/tiers/LocalTier";
import { TcpProxy } from "../support/tcpProxy";
import { requireStore, REDIS_URL, uniqueNamespace } from "../support/stores";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const plain = (name: string): TagRef => ({ name, versioned: false, versionTimeout: 864000 });
const page = (text: string): CachedResponse => ({ status: 200, headers: { "content-type": "text/plain" }, body: Buffer.from(text) });

/** Waits until `check()` holds (polling), or fails after `ms`. */
async function eventually(check: () => boolean, ms = 3000, what = "condition"): Promise<void> {
  const until = performance.now() + ms;
  while (!check()) {
    if (performance.now() > until) throw new Error(`${what} did not hold within ${ms} ms`);
    await sleep(5);
  }
}

/** Stores `text` under `key` through a lookup first (as a request does), so the local tier keeps it. */
async function store(backend: KeyvCacheBackend, key: string, tags: TagRef[], text: string): Promise<void> {
  const storageKey = buildStorageKey(undefined, key);
  const { token } = await backend.lookup(storageKey, tags);
  const entry: CacheEntry = { key: storageKey, response: page(text), timeout: 60, surrogateKeys: tags.map((t) => t.name), tags, metadata: {}, token };
  await backend.set(entry);
}

const localHit = (backend: KeyvCacheBackend, key: string) => backend.lookupSync(buildStorageKey(undefined, key))?.response?.body.toString();

describe("the local tier (SPEC §9)", function () {
  this.timeout(20000);

  describe("in process memory", () => {
    it("keeps an entry only while its versions are the newest known, and a late read never wins over an applied invalidation", () => {
      const tier = new LocalTier(1024 * 1024);
      const entry = { response: page("a"), tags: { t: 10 }, meta: {} };
      tier.put("k", entry, Date.now() + 60_000, tier.epoch);
      expect(tier.get("k")?.response.body.toString()).to.equal("a");
      tier.apply({ tags: [["t", 11]], parts: [] });
      expect(tier.get("k")).to.equal(undefined);
      // A read that saw version 10 (before the bump) comes back after the invalidation was applied.
      tier.put("k", entry, Date.now() + 60_000, tier.epoch);
      expect(tier.get("k")).to.equal(undefined);
    });

    it("drops a fill that began before the tier was cleared or an entry was deleted by key", () => {
      const tier = new LocalTier(1024 * 1024);
      const before = tier.epoch;
      tier.apply({ tags: [], parts: ["k"] });
      tier.put("k", { response: page("a"), tags: {}, meta: {} }, Date.now() + 60_000, before);
      expect(tier.get("k")).to.equal(undefined);
      const again = tier.epoch;
      tier.clear();
      tier.put("k", { response: page("a"), tags: {}, meta: {} }, Date.now() + 60_000, again);
      expect(tier.get("k")).to.equal(undefined);
    });

    it("stays within maxBytes", () => {
      const tier = new LocalTier(64 * 1024);
      for (let i = 0; i < 1000; i += 1) tier.put(`k${i}`, { response: page("x".repeat(1000)), tags: {}, meta: {} }, Date.now() + 60_000, tier.epoch);
      expect(tier.bytes()).to.be.at.most(64 * 1024);
      expect(tier.size).to.be.greaterThan(10);
    });
  });

  describe("options", () => {
    it("refuses local without a Redis store, with a message that says what to change", () => {
      expect(() => new KeyvCacheBackend({ local: {} })).to.throw(BackendOptionsError, /needs a Redis or Redis Cluster store/);
      expect(() => new KeyvCacheBackend({ store: "sqlite://:memory:", local: {} })).to.throw(BackendOptionsError, /redis:\/\//);
    });

    it("refuses unknown fields and leases out of range", () => {
      expect(() => new KeyvCacheBackend({ store: REDIS_URL, local: { lease: 10 } as never })).to.throw(BackendOptionsError, /only maxBytes and leaseMs/);
      expect(() => new KeyvCacheBackend({ store: REDIS_URL, local: { leaseMs: 5 } })).to.throw(BackendOptionsError, /from 100 to 60000/);
      expect(() => new KeyvCacheBackend({ store: REDIS_URL, local: { maxBytes: -1 } })).to.throw(BackendOptionsError, /local.maxBytes/);
    });

    it("refuses a composite of process memory and a shared store, pointing to local", () => {
      const shared = new KeyvCacheBackend({ store: REDIS_URL, namespace: uniqueNamespace("mix") });
      try {
        expect(() => new CompositeBackend({ backends: [new KeyvCacheBackend(), shared] })).to.throw(CachePageConfigError, /local: \{ maxBytes/);
      } finally {
        void shared.close();
      }
    });
  });

  describe("on Redis, several instances", () => {
    requireStore("redis");
    let namespace: string;
    let backends: KeyvCacheBackend[] = [];
    const open = (options: { leaseMs?: number } = {}) => {
      const backend = new KeyvCacheBackend({ store: REDIS_URL, namespace, local: { leaseMs: options.leaseMs ?? 1000 } });
      backends.push(backend);
      return backend;
    };

    beforeEach(() => {
      namespace = uniqueNamespace("tier");
      backends = [];
    });
    afterEach(async () => {
      await Promise.all(backends.map((b) => b.close()));
    });

    it("answers a hit from the local tier synchronously once the lease is held, and each instance learns of another's invalidation before it resolves", async () => {
      const [a, b] = [open(), open()];
      await eventually(() => a.tierLink!.serving() && b.tierLink!.serving(), 3000, "leases");
      await store(a, "/p", [plain("products")], "v1");
      expect(localHit(a, "/p")).to.equal("v1");
      // b reads it from Redis once, then locally.
      expect(localHit(b, "/p")).to.equal(undefined);
      expect((await b.lookup(buildStorageKey(undefined, "/p"), [plain("products")])).response?.body.toString()).to.equal("v1");
      expect(localHit(b, "/p")).to.equal("v1");

      await b.invalidateTagsDetailed(["products"]);
      // Resolved: neither instance serves the old page from its memory.
      expect(localHit(a, "/p")).to.equal(undefined);
      expect(localHit(b, "/p")).to.equal(undefined);
    });

    it("an invalidation from a process without a local tier reaches every tier too", async () => {
      const a = open();
      const plainBackend = new KeyvCacheBackend({ store: REDIS_URL, namespace });
      backends.push(plainBackend);
      await eventually(() => a.tierLink!.serving(), 3000, "lease");
      await store(a, "/q", [plain("q")], "v1");
      expect(localHit(a, "/q")).to.equal("v1");
      await plainBackend.invalidateTagsDetailed(["q"]);
      expect(localHit(a, "/q")).to.equal(undefined);
    });

    it("invalidateKey on one instance drops the others' local copy before it resolves", async () => {
      const [a, b] = [open(), open()];
      await eventually(() => a.tierLink!.serving() && b.tierLink!.serving(), 3000, "leases");
      await store(a, "/k", [], "v1");
      expect(localHit(a, "/k")).to.equal("v1");
      expect(await b.delete(buildStorageKey(undefined, "/k"))).to.equal(true);
      expect(localHit(a, "/k")).to.equal(undefined);
    });

    it("an instance that does not apply an invalidation loses its lease: the invalidation resolves within the store timeout plus the lease, and that instance serves no local hit after", async () => {
      const a = open({ leaseMs: 1000 });
      const b = open({ leaseMs: 1000 });
      await eventually(() => a.tierLink!.serving() && b.tierLink!.serving(), 3000, "leases");
      await store(a, "/s", [plain("stuck")], "v1");
      expect(localHit(a, "/s")).to.equal("v1");
      // a's reader is stuck: it neither applies nor acknowledges what the log holds. (Applying fails,
      // so its position in the log stays where it was: a renewal reports what a applied, and a stub
      // that skipped the apply but moved on would report the invalidation as applied.)
      const tier = a.localTier!;
      const channel = a.tierLink!.channel;
      const [apply, acknowledge] = [tier.apply.bind(tier), channel.acknowledge.bind(channel)];
      tier.apply = () => {
        throw new Error("this instance does not apply invalidations");
      };
      channel.acknowledge = () => new Promise<never>(() => undefined);
      const started = performance.now();
      await b.invalidateTagsDetailed(["stuck"]);
      const took = performance.now() - started;
      expect(took).to.be.at.most(300 + 1000 + 200);
      expect(localHit(a, "/s")).to.equal(undefined);
      tier.apply = apply;
      channel.acknowledge = acknowledge;
      // a learns its lease was revoked, drops its tier and serves local hits again afterwards.
      await eventually(() => a.tierLink!.lapses >= 2 && a.tierLink!.serving(), 3000, "a re-takes its lease");
      expect(localHit(a, "/s")).to.equal(undefined);
    });

    it("an instance whose reads of the log hang stops serving local hits within its lease", async () => {
      const a = open({ leaseMs: 500 });
      await eventually(() => a.tierLink!.serving(), 3000, "lease");
      await store(a, "/h", [], "v1");
      expect(localHit(a, "/h")).to.equal("v1");
      // Every Redis command of this instance hangs from now on (a partition).
      const channel = a.tierLink!.channel;
      const hang = () => new Promise<never>(() => undefined);
      channel.renewLease = hang;
      channel.read = hang;
      const t0 = performance.now();
      await eventually(() => localHit(a, "/h") === undefined, 2000, "local hits stop");
      expect(performance.now() - t0).to.be.at.most(500 + 50);
    });

    it("a closed instance is no longer waited for", async () => {
      const a = open({ leaseMs: 5000 });
      const b = open({ leaseMs: 5000 });
      await eventually(() => a.tierLink!.serving() && b.tierLink!.serving(), 3000, "leases");
      await a.close();
      const started = performance.now();
      await b.invalidateTagsDetailed(["closed"]);
      expect(performance.now() - started).to.be.below(250);
    });
  });
});

describe("two-tier telemetry (custom-cache-page:tier, Prometheus)", function () {
  this.timeout(20000);
  requireStore("redis");

  it("reports a revocation by the invalidating process and the lapse of the revoked one, with the lease state as a gauge", async () => {
    const namespace = uniqueNamespace("tier-tel");
    const options = { store: REDIS_URL, namespace, local: { leaseMs: 1000 } };
    configureCachePage({ backends: { a: { backend: "keyv", options }, b: { backend: "keyv", options } } });
    const registry = new Registry();
    const stopMetrics = registerCachePageMetrics(registry);
    const events: CachePageTierEvent[] = [];
    const stop = subscribeCachePage({ tier: (e) => events.push(e) });
    try {
      const [a, b] = [getCacheBackend("a") as KeyvCacheBackend, getCacheBackend("b") as KeyvCacheBackend];
      await eventually(() => a.tierLink!.serving() && b.tierLink!.serving(), 3000, "leases");
      expect(await registry.getSingleMetricAsString("cache_page_tier_serving")).to.match(/cache_page_tier_serving\{backend="a"\} 1/);
      // a's reader is stuck: b revokes a's lease, and a drops its tier at its next renewal.
      a.localTier!.apply = () => undefined;
      a.tierLink!.channel.acknowledge = () => new Promise<never>(() => undefined);
      await invalidateTag("tel", "b");
      await eventually(() => events.some((e) => e.backend === "a" && e.kind === "lapsed"), 3000, "a lapse event");
      expect(events).to.deep.include({ backend: "b", kind: "revoked", count: 1 });
      const counted = await registry.getSingleMetricAsString("cache_page_tier_events_total");
      expect(counted).to.include('cache_page_tier_events_total{backend="b",kind="revoked"} 1');
      expect(counted).to.match(/cache_page_tier_events_total\{backend="a",kind="lapsed"\} \d/);
    } finally {
      stop();
      stopMetrics();
      await closeCachePage();
      resetCachePageConfig();
    }
  });
});

describe("invalidateTag waiting out a revoked lease longer than the invalidation deadline", function () {
  this.timeout(20000);
  requireStore("redis");

  it("resolves (it does not reject as if the store were unreachable) within the store timeout plus the lease", async () => {
    const namespace = uniqueNamespace("tier-long");
    const options = { store: REDIS_URL, namespace, local: { leaseMs: 3000 } };
    configureCachePage({ backends: { a: { backend: "keyv", options }, b: { backend: "keyv", options } } });
    try {
      const [a, b] = [getCacheBackend("a") as KeyvCacheBackend, getCacheBackend("b") as KeyvCacheBackend];
      await eventually(() => a.tierLink!.serving() && b.tierLink!.serving(), 3000, "leases");
      a.localTier!.apply = () => undefined;
      a.tierLink!.channel.acknowledge = () => new Promise<never>(() => undefined);
      // a's lease was just renewed: up to 3 s are left when b revokes it, more than storeTimeoutMs + 1 s.
      const started = performance.now();
      expect(await invalidateTag("long", "b")).to.equal(0);
      expect(performance.now() - started).to.be.within(300, 300 + 3000 + 300);
    } finally {
      await closeCachePage();
      resetCachePageConfig();
    }
  });
});

describe("closing a two-tier backend while Redis does not answer", function () {
  this.timeout(20000);
  requireStore("redis");

  it("the tier gives its lease up within the store timeout, or leaves it to run out", async () => {
    const target = new URL(REDIS_URL);
    const proxy = await TcpProxy.start({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
    try {
      configureCachePage({
        backends: { a: { backend: "keyv", options: { store: proxy.url, namespace: uniqueNamespace("tier-close"), local: { leaseMs: 1000 } } } },
      });
      const a = getCacheBackend("a") as KeyvCacheBackend;
      await eventually(() => a.tierLink!.serving(), 3000, "lease");
      proxy.pause();
      const started = performance.now();
      await a.tierLink!.close();
      expect(performance.now() - started).to.be.below(300 + 200);
      expect(a.tierLink!.serving()).to.equal(false);
    } finally {
      proxy.resume();
      await closeCachePage();
      resetCachePageConfig();
      proxy.resume();
      await proxy.close();
    }
  });
});
