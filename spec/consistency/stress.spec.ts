import { expect } from "chai";
import { Get, JsonController, Param } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, configureCachePage, invalidateTag, resetCachePageConfig, versioned } from "../../src";
import type { KeyvCacheBackend } from "../../src/backends/keyv";
import { rememberVersionedTag } from "../../src/backends/tagVersions";
import type { TagRef } from "../../src/backends/types";
import { startApp } from "../support/apps";
import { BackendPool, requireStore, STORE_CASES, storeCase, uniqueNamespace } from "../support/stores";
import { InvalidationOracle, seededRandom } from "./support";

/**
 * Randomized, seeded and time-bounded: readers look up and store with the same token protocol as
 * the http layer, writers change data and invalidate, and an oracle checks every response served
 * against every invalidation that resolved before the request began. Replay a run with
 * STRESS_SEED=<seed>; timing still varies, the sequence of choices does not.
 */
const SEED = Number(process.env.STRESS_SEED ?? 0x5eed);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs for `ms`, then on until `enough()` says the run did the work its assertions need, but never
 * past `ms + graceMs`: on a loaded machine (a CI run took 2.4 times as long as usual) the same
 * seconds hold fewer operations, and a run that did too little proves too little.
 */
function runWindow(ms: number, enough: () => boolean, graceMs = 12_000): () => boolean {
  const deadline = Date.now() + ms;
  const cap = deadline + graceMs;
  return () => {
    const now = Date.now();
    return now < deadline || (now < cap && !enough());
  };
}

interface Body {
  computedAt: number;
  data: Record<string, number>;
}

interface StressMinimum {
  hits: number;
  invalidations: number;
  total: number;
}

async function backendStress(backends: KeyvCacheBackend[], ms: number, label: string, readers: number, minimum: StressMinimum) {
  const random = seededRandom(SEED);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const oracle = new InvalidationOracle();
  const tags: TagRef[] = [
    ...["p0", "p1", "p2"].map((n) => ({ name: `${label}-${n}`, versioned: false, versionTimeout: 864000 })),
    ...["v0", "v1"].map((n) => {
      rememberVersionedTag(`${label}-${n}`, 864000);
      return { name: `${label}-${n}`, versioned: true, versionTimeout: 864000 };
    }),
  ];
  const keys = Array.from({ length: 24 }, (_, i) => {
    const own = tags.filter(() => random() < 0.4);
    return { key: `:/stress/${i}`, tags: own.length > 0 ? own : [pick(tags)] };
  });
  const data: Record<string, number> = Object.fromEntries(tags.map((t) => [t.name, 0]));
  const stats = { hits: 0, misses: 0, invalidations: 0 };
  const running = runWindow(
    ms,
    () => stats.hits > minimum.hits && stats.invalidations > minimum.invalidations && stats.hits + stats.misses + stats.invalidations > minimum.total,
  );

  const reader = async () => {
    while (running()) {
      // In memory every await is a microtask: let timers (the writers) run between requests.
      await new Promise((r) => setImmediate(r));
      const { key, tags: own } = pick(keys);
      const backend = pick(backends);
      const start = oracle.tick();
      const found = await backend.lookup(key, own);
      if (found.response) {
        const body = JSON.parse(found.response.body.toString()) as Body;
        oracle.check(
          start,
          body.computedAt,
          own.map((t) => t.name),
          `${label} ${key}`,
        );
        stats.hits += 1;
        continue;
      }
      const computedAt = oracle.tick();
      const seen = Object.fromEntries(own.map((t) => [t.name, data[t.name]]));
      if (random() < 0.5) await sleep(Math.floor(random() * 4));
      const body = Buffer.from(JSON.stringify({ computedAt, data: seen } satisfies Body));
      await backend.set({
        key,
        response: { status: 200, headers: {}, body },
        timeout: 60,
        surrogateKeys: own.map((t) => t.name),
        tags: own,
        token: found.token,
        metadata: {},
      });
      stats.misses += 1;
    }
  };
  const writer = async () => {
    while (running()) {
      const tag = pick(tags);
      data[tag.name] += 1;
      await oracle.invalidate(tag.name, () => pick(backends).invalidateBySurrogate(tag.name));
      stats.invalidations += 1;
      await sleep(Math.floor(random() * 6));
    }
  };
  await Promise.all([...Array.from({ length: readers }, reader), ...Array.from({ length: 3 }, writer)]);
  return { oracle, stats };
}

describe(`randomized invalidation stress (seed ${SEED})`, function () {
  this.timeout(30000);
  for (const c of STORE_CASES) {
    const main = c.name === "memory" || c.name === "redis";
    const ms = main ? 2000 : 1500;
    describe(`on ${c.name}`, () => {
      requireStore(c.name);
      let pool: BackendPool;
      before(() => (pool = new BackendPool(c, "stress")));
      after(() => pool.dispose());

      it(`serves no response older than an invalidation that resolved before the request (${ms} ms, two backend objects)`, async () => {
        const minimum = main ? { hits: 500, invalidations: 300, total: 2000 } : { hits: 15, invalidations: 20, total: 0 };
        const { oracle, stats } = await backendStress([pool.open(), pool.open()], ms, `${c.name}-${SEED}`, main ? 12 : 6, minimum);
        const total = stats.hits + stats.misses + stats.invalidations;
        console.log(
          `      ${c.name}: ${total} operations (${stats.hits} hits, ${stats.misses} misses stored, ${stats.invalidations} invalidations), ${oracle.violations.length} violations`,
        );
        expect(oracle.violations, oracle.violations.slice(0, 3).join("\n")).to.deep.equal([]);
        expect(stats.hits, "the run must actually serve hits").to.be.above(minimum.hits);
        expect(stats.invalidations).to.be.above(minimum.invalidations);
        expect(total).to.be.above(minimum.total);
      });
    });
  }
});

// --- The same over HTTP: concurrent requests through routing-controllers, writers invalidating. ---

const httpClock = new InvalidationOracle();
const httpData: Record<string, number> = { "http-a": 0, "http-b": 0, "http-v": 0 };

@Service()
@JsonController("/stress")
class StressController {
  @Get("/item/:id")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path, tags: ["http-a", (r) => (Number(r.params.id) % 2 ? "http-b" : null), versioned("http-v")] })
  async item(@Param("id") id: string) {
    const computedAt = httpClock.tick();
    const seen = { ...httpData };
    await sleep(Number(id) % 3);
    return { computedAt, data: seen };
  }
}

describe(`randomized invalidation stress over HTTP (seed ${SEED})`, function () {
  this.timeout(30000);
  for (const name of ["memory", "redis"] as const) {
    describe(`on ${name}`, () => {
      requireStore(name);
      let namespace: string;
      before(() => {
        namespace = uniqueNamespace(`http-stress-${name}`);
        configureCachePage({ backends: { default: { backend: "keyv", options: { store: storeCase(name).store(), namespace } } } });
      });
      after(async () => {
        await resetCachePageConfig();
        await storeCase(name).clear(namespace);
      });

      for (const driver of ["express", "koa"] as const) {
        it(`${driver}: no response older than a resolved invalidation (1200 ms)`, async () => {
          const random = seededRandom(SEED + driver.length);
          const app = await startApp(driver, [StressController]);
          let requests = 0;
          let hits = 0;
          const running = runWindow(1200, () => hits > 20 && requests > 150);
          try {
            const client = async () => {
              while (running()) {
                const id = Math.floor(random() * 6);
                const start = httpClock.tick();
                const res = await app.http.get(`/stress/item/${id}`);
                expect(res.status).to.equal(200);
                const tags = ["http-a", "http-v", ...(id % 2 ? ["http-b"] : [])];
                httpClock.check(start, res.body.computedAt, tags, `${driver} /stress/item/${id} (${res.headers["x-cache"]})`);
                requests += 1;
                if (res.headers["x-cache"] === "HIT") hits += 1;
              }
            };
            const writer = async () => {
              while (running()) {
                const tag = ["http-a", "http-b", "http-v"][Math.floor(random() * 3)];
                httpData[tag] += 1;
                await httpClock.invalidate(tag, () => invalidateTag(tag));
                await sleep(5 + Math.floor(random() * 15));
              }
            };
            await Promise.all([...Array.from({ length: 8 }, client), writer(), writer()]);
          } finally {
            await app.close();
          }
          console.log(
            `      ${name}/${driver}: ${requests} requests (${hits} hits), ${httpClock.invalidations} invalidations so far, ${httpClock.violations.length} violations`,
          );
          expect(httpClock.violations, httpClock.violations.slice(0, 3).join("\n")).to.deep.equal([]);
          expect(hits).to.be.above(20);
          expect(requests).to.be.above(150);
        });
      }
    });
  }
});
