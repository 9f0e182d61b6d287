import { expect } from "chai";
import { Get, JsonController } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, KeyvCacheBackend } from "../../src";
import { sleep, startApp, type TestApp } from "../support/apps";
import { requireStore } from "../support/stores";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const namespace = `locktest${process.pid}${Date.now() % 100000}`;
// Two backend objects on one Redis: what two app instances (two processes) would have.
const backendA = new KeyvCacheBackend({ store: REDIS_URL, namespace });
const backendB = new KeyvCacheBackend({ store: REDIS_URL, namespace });
let calls = 0;
const lock = { ttl: 600, wait: 4000 };
const page = async () => {
  calls += 1;
  await sleep(300);
  return { calls };
};

@Service()
@JsonController("/lock")
class InstanceA {
  @Get("/page")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path, backend: backendA, lock })
  page() {
    return page();
  }
}

@Service()
@JsonController("/lock")
class InstanceB {
  @Get("/page")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path, backend: backendB, lock })
  page() {
    return page();
  }
}

describe("stampede lock across two app instances on one Redis", function () {
  this.timeout(30_000);
  let a: TestApp;
  let b: TestApp;
  requireStore("redis");
  before(async () => {
    a = await startApp("express", [InstanceA]);
    b = await startApp("koa", [InstanceB]);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await backendA.close();
    await backendB.close();
  });
  beforeEach(async () => {
    calls = 0;
    await backendA.delete(":/lock/page");
  });

  it("runs the action once between both instances for concurrent misses", async () => {
    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).http.get("/lock/page")));
    expect(responses.every((r) => r.status === 200)).to.equal(true);
    expect(calls).to.equal(1);
    expect(new Set(responses.map((r) => r.text)).size).to.equal(1);
  });

  it("does not let a crashed lock holder block the others past the lock's ttl", async () => {
    const token = await backendA.acquireLock("lock::/lock/page", lock.ttl); // taken, never released: a crash
    expect(token).to.be.a("string");
    const started = Date.now();
    const res = await b.http.get("/lock/page");
    const waited = Date.now() - started;
    expect(res.status).to.equal(200);
    expect(calls).to.equal(1);
    expect(waited).to.be.at.least(lock.ttl - 100);
    expect(waited).to.be.below(lock.ttl + 300 + 1500);
  });
});
