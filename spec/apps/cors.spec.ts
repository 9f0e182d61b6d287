import { expect } from "chai";
import cors from "cors";
import { Get, JsonController, QueryParam } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, resetCachePageConfig } from "../../src";
import { ALL_DRIVERS, type Driver } from "../support/apps";
import { CallCounter, koaFromConnect, nonce, startRealApp, type RealApp } from "../support/realApps";

// cors mounted the way its README says (app.use(cors(corsOptions))) before routing-controllers'
// routes; on Koa through the connect adapter koa-connect uses. With a list of origins, cors reflects
// an allowed Origin in Access-Control-Allow-Origin and adds `Vary: Origin`.
// SPEC §8 "Variants": "... This covers ... `Origin` (`cors`)"; issue 9: "No ... CORS header ... of
// one client ever reaches another".

const calls = new CallCounter();
const A = "http://a.example";
const B = "http://b.example";
const EVIL = "http://evil.example";

@Service()
@JsonController("/cors")
class CorsController {
  @Get("/page")
  @CachePage({ timeout: 60, keyFunc: (r) => r.url })
  page(@QueryParam("n") n: string) {
    return { n, call: calls.hit(`page:${n}`) };
  }
}

function mountCors(app: any, driver: Driver): void {
  const mw = cors({ origin: [A, B], credentials: true, exposedHeaders: ["X-Cache"] });
  app.use(driver === "koa" ? koaFromConnect(mw) : mw);
}

for (const driver of ALL_DRIVERS) {
  describe(`apps: cors (${driver})`, () => {
    let app: RealApp;
    before(async () => {
      app = await startRealApp(driver, { controllers: [CorsController], mount: mountCors });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls.reset();
    });

    it("gives each Origin its own Access-Control-Allow-Origin, on misses and hits, never another origin's", async () => {
      const n = nonce();
      const path = `/cors/page?n=${n}`;
      const a1 = await app.http.get(path).set("Origin", A);
      expect(a1.headers["access-control-allow-origin"]).to.equal(A);
      expect(a1.headers["access-control-allow-credentials"]).to.equal("true");
      const b1 = await app.http.get(path).set("Origin", B);
      expect(b1.headers["access-control-allow-origin"]).to.be.oneOf([B, undefined]);
      const a2 = await app.http.get(path).set("Origin", A);
      expect(a2.headers["access-control-allow-origin"]).to.equal(A);
      const b2 = await app.http.get(path).set("Origin", B);
      expect(b2.headers["access-control-allow-origin"]).to.be.oneOf([B, undefined]);
      expect(b2.headers["access-control-allow-origin"]).to.not.equal(A);
      for (const res of [a1, b1, a2, b2]) expect(res.body.n).to.equal(n);
    });

    it("a page stored for Origin a.example is a HIT for a.example and carries a.example's header", async () => {
      const n = nonce();
      const path = `/cors/page?n=${n}`;
      await app.http.get(path).set("Origin", A);
      const hit = await app.http.get(path).set("Origin", A);
      expect(hit.headers["x-cache"]).to.equal("HIT");
      expect(hit.headers["access-control-allow-origin"]).to.equal(A);
      expect(String(hit.headers.vary ?? "").toLowerCase()).to.contain("origin");
      expect(calls.of(`page:${n}`)).to.equal(1);
    });

    it('an Origin the page was not stored for is a miss with its own page (SPEC §8 "Variants": Origin)', async () => {
      const n = nonce();
      const path = `/cors/page?n=${n}`;
      await app.http.get(path).set("Origin", A);
      const b = await app.http.get(path).set("Origin", B);
      expect(b.headers["x-cache"]).to.not.equal("HIT");
      expect(b.headers["access-control-allow-origin"]).to.equal(B);
      expect(calls.of(`page:${n}`)).to.equal(2);
      const bHit = await app.http.get(path).set("Origin", B);
      expect(bHit.headers["x-cache"]).to.equal("HIT");
      expect(bHit.headers["access-control-allow-origin"]).to.equal(B);
      expect(calls.of(`page:${n}`)).to.equal(2);
    });

    it("a client without Origin, or with an origin cors refuses, never gets a.example's Access-Control-Allow-Origin", async () => {
      const n = nonce();
      const path = `/cors/page?n=${n}`;
      await app.http.get(path).set("Origin", A);
      await app.http.get(path).set("Origin", A);
      for (let i = 0; i < 2; i++) {
        const none = await app.http.get(path);
        expect(none.status).to.equal(200);
        expect(none.headers["access-control-allow-origin"]).to.equal(undefined);
        const evil = await app.http.get(path).set("Origin", EVIL);
        expect(evil.status).to.equal(200);
        expect(evil.headers["access-control-allow-origin"]).to.equal(undefined);
      }
    });

    it("a page first stored without Origin never makes a.example lose its Access-Control-Allow-Origin", async () => {
      const n = nonce();
      const path = `/cors/page?n=${n}`;
      await app.http.get(path);
      await app.http.get(path);
      for (let i = 0; i < 2; i++) {
        const a = await app.http.get(path).set("Origin", A);
        expect(a.headers["access-control-allow-origin"]).to.equal(A);
        expect(a.headers["access-control-expose-headers"]).to.equal("X-Cache");
      }
    });
  });
}
