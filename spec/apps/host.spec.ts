import { expect } from "chai";
import { Get, JsonController, Req } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, generateCacheKey, resetCachePageConfig, type CacheRequest } from "../../src";
import { ALL_DRIVERS } from "../support/apps";
import { CallCounter, nonce, startRealApp, type RealApp } from "../support/realApps";

// SPEC §2: `host` is the "lower-case host[:port] the client asked for (Host; X-Forwarded-Host only
// when the app trusts proxies: Express "trust proxy", Koa app.proxy)".
// SPEC §4: `generateCacheKey(req)` is "host + path + query params"; "different hosts ... never give
// the same key".

const calls = new CallCounter();
/** What the last keyFunc call saw as CacheRequest.host. */
const seenHosts: string[] = [];

/** The host the framework itself reports (Express req.hostname, Koa ctx.hostname): both honour the app's proxy setting. */
function frameworkHost(req: any): string {
  return String(req.hostname);
}

/** keyFunc may run more than once per request: every call must have seen `expected`. */
function expectSeenHosts(expected: string): void {
  expect(seenHosts, "keyFunc ran").to.have.length.greaterThan(0);
  expect([...new Set(seenHosts)]).to.deep.equal([expected]);
}

function hostOf(r: CacheRequest): unknown {
  return (r as CacheRequest & { host?: unknown }).host;
}

@Service()
@JsonController("/host")
class HostController {
  @Get("/page")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey })
  page(@Req() req: any) {
    return { host: frameworkHost(req), call: calls.hit(`page:${req.query.n}`) };
  }

  @Get("/seen")
  @CachePage({
    timeout: 60,
    keyFunc: (r) => {
      seenHosts.push(String(hostOf(r)));
      return generateCacheKey(r);
    },
  })
  seen(@Req() req: any) {
    return { host: frameworkHost(req) };
  }
}

for (const driver of ALL_DRIVERS) {
  describe(`apps: Host and virtual hosts, proxies not trusted (${driver})`, () => {
    let app: RealApp;
    before(async () => {
      app = await startRealApp(driver, { controllers: [HostController] });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls.reset();
      seenHosts.length = 0;
    });

    it('gives two virtual hosts their own pages with keyFunc generateCacheKey (SPEC §4 "different hosts ... never give the same key")', async () => {
      const n = nonce();
      const path = `/host/page?n=${n}`;
      const a = await app.http.get(path).set("Host", "a.test");
      expect(a.body).to.deep.equal({ host: "a.test", call: 1 });
      const b = await app.http.get(path).set("Host", "b.test");
      expect(b.headers["x-cache"]).to.equal("MISS");
      expect(b.body).to.deep.equal({ host: "b.test", call: 2 });
      const aHit = await app.http.get(path).set("Host", "a.test");
      expect(aHit.headers["x-cache"]).to.equal("HIT");
      expect(aHit.body).to.deep.equal({ host: "a.test", call: 1 });
      const bHit = await app.http.get(path).set("Host", "b.test");
      expect(bHit.headers["x-cache"]).to.equal("HIT");
      expect(bHit.body).to.deep.equal({ host: "b.test", call: 2 });
    });

    it("generateCacheKey differs by host and by port", async () => {
      const n = nonce();
      const path = `/host/page?n=${n}`;
      await app.http.get(path).set("Host", "a.test:8080");
      const otherPort = await app.http.get(path).set("Host", "a.test:9090");
      expect(otherPort.headers["x-cache"]).to.equal("MISS");
      expect(calls.of(`page:${n}`)).to.equal(2);
    });

    it("CacheRequest.host is the lower-case host[:port] the client asked for (SPEC §2)", async () => {
      const n = nonce();
      await app.http.get(`/host/seen?n=${n}`).set("Host", "WWW.Example.TEST:8080");
      expectSeenHosts("www.example.test:8080");
    });

    it("ignores X-Forwarded-Host when the app does not trust proxies: CacheRequest.host is the Host", async () => {
      const n = nonce();
      await app.http.get(`/host/seen?n=${n}`).set("Host", "site.test").set("X-Forwarded-Host", "evil.test");
      expectSeenHosts("site.test");
    });

    it("an X-Forwarded-Host request to an untrusting app fills the page of its Host, which other clients of that Host hit", async () => {
      const n = nonce();
      const path = `/host/page?n=${n}`;
      const forged = await app.http.get(path).set("Host", "site.test").set("X-Forwarded-Host", "victim.test");
      expect(forged.body.host).to.equal("site.test");
      const plain = await app.http.get(path).set("Host", "site.test");
      expect(plain.headers["x-cache"]).to.equal("HIT");
      expect(plain.body).to.deep.equal({ host: "site.test", call: 1 });
    });

    it("an X-Forwarded-Host request to an untrusting app can't poison the page the named host's clients get", async () => {
      const n = nonce();
      const path = `/host/page?n=${n}`;
      await app.http.get(path).set("Host", "site.test").set("X-Forwarded-Host", "victim.test");
      await app.http.get(path).set("Host", "site.test").set("X-Forwarded-Host", "victim.test");
      for (let i = 0; i < 2; i++) {
        const victim = await app.http.get(path).set("Host", "victim.test");
        expect(victim.body.host, "victim.test's clients get victim.test's page").to.equal("victim.test");
      }
      expect(calls.of(`page:${n}`)).to.equal(2);
    });
  });

  describe(`apps: Host behind a trusted proxy (${driver})`, () => {
    let app: RealApp;
    before(async () => {
      app = await startRealApp(driver, { controllers: [HostController], trustProxy: true });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls.reset();
      seenHosts.length = 0;
    });

    it('uses X-Forwarded-Host when the app trusts proxies (SPEC §2: Express "trust proxy", Koa app.proxy)', async () => {
      const n = nonce();
      await app.http.get(`/host/seen?n=${n}`).set("Host", "internal:3000").set("X-Forwarded-Host", "Shop.Example");
      expectSeenHosts("shop.example");
    });

    it("gives each forwarded host its own page behind the proxy, and a HIT to the same forwarded host", async () => {
      const n = nonce();
      const path = `/host/page?n=${n}`;
      const a = await app.http.get(path).set("Host", "internal:3000").set("X-Forwarded-Host", "a.example");
      expect(a.body).to.deep.equal({ host: "a.example", call: 1 });
      const b = await app.http.get(path).set("Host", "internal:3000").set("X-Forwarded-Host", "b.example");
      expect(b.headers["x-cache"]).to.equal("MISS");
      expect(b.body).to.deep.equal({ host: "b.example", call: 2 });
      const aHit = await app.http.get(path).set("Host", "internal:3000").set("X-Forwarded-Host", "a.example");
      expect(aHit.headers["x-cache"]).to.equal("HIT");
      expect(aHit.body).to.deep.equal({ host: "a.example", call: 1 });
    });

    it("a request without X-Forwarded-Host never gets a forwarded host's page", async () => {
      const n = nonce();
      const path = `/host/page?n=${n}`;
      await app.http.get(path).set("Host", "internal:3000").set("X-Forwarded-Host", "a.example");
      const direct = await app.http.get(path).set("Host", "internal:3000");
      expect(direct.body.host).to.equal("internal");
      expect(calls.of(`page:${n}`)).to.equal(2);
    });
  });
}
