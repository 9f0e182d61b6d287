import { expect } from "chai";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import {
  BaseCacheBackend,
  CachePageConfigError,
  CachePageOptionsError,
  closeCachePage,
  CompositeBackend,
  configureCachePage,
  getCacheBackend,
  KeyvCacheBackend,
  resetCachePageConfig,
  type CachedResponse,
} from "../../src";
import { assertBackendConfigured, registerActionBackend, releaseBackend, retainBackend } from "../../src/config/configure";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

function configError(config: unknown): CachePageConfigError {
  try {
    configureCachePage(config as never);
  } catch (error) {
    expect(error).to.be.instanceOf(CachePageConfigError);
    return error as CachePageConfigError;
  }
  throw new Error("expected a CachePageConfigError");
}

const closed: string[] = [];
class Tracked extends BaseCacheBackend {
  static made = 0;
  readonly id = `tracked-${++Tracked.made}`;
  async get(): Promise<CachedResponse | undefined> {
    return undefined;
  }
  async set(): Promise<void> {}
  async delete(): Promise<boolean> {
    return false;
  }
  async invalidateBySurrogate(): Promise<number> {
    return 0;
  }
  override async close(): Promise<void> {
    closed.push(this.id);
  }
}
const tick = () => new Promise((r) => setTimeout(r, 10));

describe("configureCachePage: shapes, numbers and lifecycle", function () {
  this.timeout(20_000);
  beforeEach(() => (closed.length = 0));
  afterEach(() => resetCachePageConfig());

  describe("refuses", () => {
    it("an array where the configuration object belongs, naming the path", () => {
      const root = configError([]);
      expect(root.path).to.equal("");
      expect(root.message).to.match(/expects an object .* \(got an array\)/);
      expect(configError({ backends: [] }).path).to.equal("backends");
      expect(configError({ backends: { a: [] } }).path).to.equal("backends.a");
      expect(configError({ backends: { a: { backend: "keyv", options: [] } } }).path).to.equal("backends.a.options");
      expect(configError({ circuitBreaker: [] }).path).to.equal("circuitBreaker");
      expect(configError({ backends: { a: { backend: "keyv", options: { prune: [] } } } }).path).to.equal("backends.a.options.prune");
    });

    it("numbers no timer can hold (2^31 ms and more), naming the path", () => {
      const e = configError({ storeTimeoutMs: 2 ** 31 });
      expect(e.path).to.equal("storeTimeoutMs");
      expect(e.message).to.match(/2147483647/);
      expect(configError({ circuitBreaker: { cooldownMs: 2 ** 31 } }).path).to.equal("circuitBreaker");
      expect(configError({ backends: { cdn: { backend: "varnish", options: { urls: ["http://127.0.0.1:6081/"], timeoutMs: 2 ** 31 } } } }).path).to.equal(
        "backends.cdn.options.timeoutMs",
      );
      expect(configError({ backends: { cdn: { backend: "varnish", options: { urls: ["http://127.0.0.1:6081/"], retryBudgetMs: 1e12 } } } }).path).to.equal(
        "backends.cdn.options.retryBudgetMs",
      );
      configureCachePage({ storeTimeoutMs: 2 ** 31 - 1 }); // the largest a timer holds is fine
    });

    it("a composite mixing an in-memory store with a shared Redis store, pointing to the two-tier option", () => {
      const e = configError({
        backends: {
          memory: { backend: "keyv" },
          redis: { backend: "keyv", options: { store: REDIS_URL, namespace: "ccp-mix" } },
          site: { backend: "composite", options: { backends: ["memory", "redis"] } },
        },
      });
      expect(e.path).to.equal("backends.site.options.backends");
      expect(e.message).to.include("local: {").and.not.include("next release");
      const shared = new KeyvCacheBackend({ store: REDIS_URL });
      expect(() => new CompositeBackend({ backends: [new KeyvCacheBackend(), shared] })).to.throw(CachePageConfigError, /local tier/);
      void shared.close();
      const local = configError({ backends: { a: { backend: "keyv", options: { local: { leaseMs: 2000 } } } } });
      expect(local.path).to.equal("backends.a.options.local");
      expect(local.message).to.match(/needs a Redis or Redis Cluster store/);
    });

    it("and keeps accepting an in-memory store with a CDN (no store of its own)", () => {
      configureCachePage({
        backends: {
          memory: { backend: "keyv" },
          cdn: { backend: "varnish", options: { urls: ["http://127.0.0.1:6081/"] } },
          site: { backend: "composite", options: { backends: ["memory", "cdn"] } },
        },
      });
    });
  });

  describe("unknown backend names in @CachePage", () => {
    it("are caught by assertBackendConfigured with a message that says what to change", () => {
      configureCachePage({ backends: { redis: { backend: "keyv" } } });
      assertBackendConfigured("redis", "@CachePage on X.list");
      expect(() => assertBackendConfigured("reddis", "@CachePage on ProductController.list")).to.throw(
        CachePageOptionsError,
        /@CachePage on ProductController\.list: backend "reddis" is not configured — did you mean "redis"\?.*configureCachePage/,
      );
    });
  });

  describe("closing", () => {
    it("closes the backends configureCachePage replaces once their in-flight requests are done", async () => {
      configureCachePage({ defaultBackend: "t", backends: { t: { backend: Tracked } } });
      const first = getCacheBackend() as Tracked;
      const release = retainBackend(first);
      retainBackend(first);
      configureCachePage({ defaultBackend: "t", backends: { t: { backend: Tracked } } });
      await tick();
      expect(closed).to.not.include(first.id);
      release();
      release(); // a second call of the same release does nothing
      await tick();
      expect(closed).to.not.include(first.id);
      releaseBackend(first);
      await tick();
      expect(closed).to.include(first.id);
      const second = getCacheBackend() as Tracked;
      configureCachePage({});
      await tick();
      expect(closed).to.include(second.id); // nothing in flight: closed at once
    });

    it("closeCachePage closes and forgets every backend: configured, replaced and given to actions", async () => {
      configureCachePage({ defaultBackend: "t", backends: { t: { backend: Tracked } } });
      const configured = getCacheBackend() as Tracked;
      const action = new Tracked();
      registerActionBackend(action);
      await closeCachePage();
      expect(closed).to.include.members([configured.id, action.id]);
      expect(getCacheBackend()).to.be.instanceOf(KeyvCacheBackend); // starts again from the in-memory default
      expect(getCacheBackend("default")).to.not.equal(configured);
    });

    it("after closeCachePage nothing keeps the process alive (a child process with a Redis backend exits by itself)", async () => {
      const fixture = resolve(__dirname, "fixtures/closeAndExit.ts");
      const started = Date.now();
      const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", fixture], {
        cwd: resolve(__dirname, "../.."),
        env: { ...process.env, REDIS_URL },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (d: Buffer) => (output += d));
      child.stderr.on("data", (d: Buffer) => (output += d));
      const code = await new Promise<number | null>((done) => {
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          done(-1);
        }, 12_000);
        child.once("exit", (c) => {
          clearTimeout(timer);
          done(c);
        });
      });
      expect(code, output).to.equal(0);
      expect(output).to.match(/closed after deleting 2/);
      expect(Date.now() - started).to.be.below(12_000);
    });
  });
});
