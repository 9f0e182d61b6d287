import { expect } from "chai";
import expressSession from "express-session";
import koaSession from "koa-session";
import { Get, JsonController, QueryParam, Req } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, resetCachePageConfig } from "../../src";
import { ALL_DRIVERS, type Driver } from "../support/apps";
import { CallCounter, nonce, setCookiePairs, startRealApp, type RealApp } from "../support/realApps";

// Sessions mounted the way their READMEs say, before routing-controllers' routes:
//   express-session: app.use(session({ secret, resave: false, saveUninitialized: true }))
//   koa-session:     app.keys = [...]; app.use(session(CONFIG, app))
// SPEC §8: "Never stored: a response that leaves with `Set-Cookie`"; issue 9: "No session cookie
// ... of one client ever reaches another".

const calls = new CallCounter();
let visitorSerial = 0;
const page = { timeout: 60, keyFunc: (r: { url: string }) => r.url };

/** The session object on Express (`req.session`) or Koa (`ctx.session`; routing-controllers' @Req() is ctx.request). */
function sessionOf(req: any): Record<string, unknown> {
  return req.session ?? req.ctx.session;
}

@Service()
@JsonController("/sess")
class SessionController {
  /** A page that never touches the session. */
  @Get("/page")
  @CachePage(page)
  page(@QueryParam("n") n: string) {
    return { page: n, call: calls.hit("page") };
  }

  /** A cached page that writes to the session: the session middleware adds Set-Cookie as the headers leave. */
  @Get("/touch")
  @CachePage(page)
  touch(@Req() req: any, @QueryParam("n") n: string) {
    visitorSerial += 1;
    sessionOf(req).visitor = `visitor-${visitorSerial}`;
    return { page: n, call: calls.hit("touch") };
  }

  /** Not cached: logs the visitor in. */
  @Get("/login")
  login(@Req() req: any, @QueryParam("user") user: string) {
    sessionOf(req).user = user;
    return { user };
  }

  /** Not cached: who the session says the visitor is. */
  @Get("/whoami")
  whoami(@Req() req: any) {
    return { user: sessionOf(req).user ?? null };
  }
}

interface SessionSetup {
  label: string;
  drivers: Driver[];
  mount(app: any, driver: Driver): void;
}

const setups: SessionSetup[] = [
  {
    label: "express-session, README settings (saveUninitialized: true)",
    drivers: ALL_DRIVERS.filter((d) => d !== "koa"),
    mount: (app) => app.use(expressSession({ secret: "keyboard cat", resave: false, saveUninitialized: true })),
  },
  {
    label: "express-session, saveUninitialized: false",
    drivers: ALL_DRIVERS.filter((d) => d !== "koa"),
    mount: (app) => app.use(expressSession({ secret: "keyboard cat", resave: false, saveUninitialized: false })),
  },
  {
    label: "koa-session, README settings",
    drivers: ["koa"],
    mount: (app) => {
      app.keys = ["some secret hurr"];
      app.use(koaSession({ key: "koa.sess", maxAge: 86400000, httpOnly: true, signed: true, rolling: false, renew: false }, app));
    },
  },
];

for (const setup of setups) {
  for (const driver of setup.drivers) {
    describe(`apps: ${setup.label} (${driver})`, () => {
      let app: RealApp;
      before(async () => {
        app = await startRealApp(driver, { controllers: [SessionController], mount: setup.mount });
      });
      after(() => app.close());
      beforeEach(async () => {
        await resetCachePageConfig();
        calls.reset();
      });

      it('never stores a response that leaves with the session\'s Set-Cookie (SPEC §8 "Never stored: a response that leaves with Set-Cookie")', async () => {
        const n = nonce();
        const a = await app.http.get(`/sess/touch?n=${n}`);
        expect(a.status).to.equal(200);
        const aCookies = setCookiePairs(a.headers["set-cookie"]);
        expect(aCookies, "the session middleware set visitor A's cookie on A's miss").to.have.length.greaterThan(0);
        expect(a.headers["x-cache"]).to.not.equal("HIT");

        const b = await app.http.get(`/sess/touch?n=${n}`);
        expect(b.status).to.equal(200);
        expect(b.headers["x-cache"], "A's response left with Set-Cookie, so it was not stored").to.not.equal("HIT");
        expect(calls.of("touch")).to.equal(2);
        for (const pair of aCookies) expect(setCookiePairs(b.headers["set-cookie"])).to.not.include(pair);

        const c = await app.http.get(`/sess/touch?n=${n}`);
        expect(c.headers["x-cache"]).to.not.equal("HIT");
        expect(calls.of("touch")).to.equal(3);
        for (const pair of [...aCookies, ...setCookiePairs(b.headers["set-cookie"])]) {
          expect(setCookiePairs(c.headers["set-cookie"])).to.not.include(pair);
        }
      });

      it("never gives visitor A's session cookie to a visitor without a cookie, on misses or hits", async () => {
        const n = nonce();
        const visitorA = app.agent();
        const a1 = await visitorA.get(`/sess/page?n=${n}`);
        const a2 = await visitorA.get(`/sess/page?n=${n}`);
        const aCookies = [...setCookiePairs(a1.headers["set-cookie"]), ...setCookiePairs(a2.headers["set-cookie"])];
        for (let i = 0; i < 3; i++) {
          const stranger = await app.http.get(`/sess/page?n=${n}`);
          expect(stranger.status).to.equal(200);
          expect(stranger.body.page).to.equal(n);
          for (const pair of aCookies) expect(setCookiePairs(stranger.headers["set-cookie"])).to.not.include(pair);
        }
      });

      it("still caches: a page that left without Set-Cookie is a HIT for the next visitor, who gets none of A's cookies", async () => {
        const n = nonce();
        const visitorA = app.agent();
        const a1 = await visitorA.get(`/sess/page?n=${n}`);
        const a1SetCookie = setCookiePairs(a1.headers["set-cookie"]);
        const a2 = await visitorA.get(`/sess/page?n=${n}`);
        // A's second request carries its cookie: the session middleware sends no Set-Cookie, the page is storable.
        expect(setCookiePairs(a2.headers["set-cookie"])).to.deep.equal([]);
        if (a1SetCookie.length === 0) expect(a2.headers["x-cache"], "A's first page left without Set-Cookie").to.equal("HIT");
        const stored = a1SetCookie.length > 0 ? 2 : 1;
        expect(calls.of("page")).to.equal(stored);

        const b = await app.http.get(`/sess/page?n=${n}`);
        expect(b.headers["x-cache"]).to.equal("HIT");
        expect(b.body).to.deep.equal({ page: n, call: stored });
        expect(calls.of("page")).to.equal(stored);
        for (const pair of a1SetCookie) expect(setCookiePairs(b.headers["set-cookie"])).to.not.include(pair);
      });

      it("never gives a visitor with its own session cookie another visitor's Set-Cookie", async () => {
        const n = nonce();
        const a = await app.http.get(`/sess/touch?n=${n}`);
        const aCookies = setCookiePairs(a.headers["set-cookie"]);
        expect(aCookies).to.have.length.greaterThan(0);

        const visitorB = app.agent();
        const login = await visitorB.get("/sess/login?user=bob");
        const bCookies = setCookiePairs(login.headers["set-cookie"]);
        expect(bCookies).to.have.length.greaterThan(0);
        for (const path of [`/sess/touch?n=${n}`, `/sess/page?n=${n}`, `/sess/page?n=${n}`]) {
          const res = await visitorB.get(path);
          expect(res.status).to.equal(200);
          for (const pair of aCookies) expect(setCookiePairs(res.headers["set-cookie"])).to.not.include(pair);
        }
        expect((await visitorB.get("/sess/whoami")).body).to.deep.equal({ user: "bob" });
      });

      it("never switches a logged-in visitor into another session through a hit", async () => {
        const n = nonce();
        // An anonymous visitor fills the page (twice: the second one has no Set-Cookie of its own to hide behind).
        const anonymous = app.agent();
        await anonymous.get(`/sess/page?n=${n}`);
        await anonymous.get(`/sess/page?n=${n}`);
        await anonymous.get(`/sess/touch?n=${n}`);

        const alice = app.agent();
        const bob = app.agent();
        await alice.get("/sess/login?user=alice");
        await bob.get("/sess/login?user=bob");
        for (const path of [`/sess/page?n=${n}`, `/sess/touch?n=${n}`, `/sess/page?n=${n}`]) {
          await alice.get(path);
          await bob.get(path);
          expect((await alice.get("/sess/whoami")).body, `alice after ${path}`).to.deep.equal({ user: "alice" });
          expect((await bob.get("/sess/whoami")).body, `bob after ${path}`).to.deep.equal({ user: "bob" });
        }
        expect((await anonymous.get("/sess/whoami")).body).to.deep.equal({ user: null });
      });

      it("never stores the page of a logged-in visitor's response that renewed the session cookie", async () => {
        const n = nonce();
        const alice = app.agent();
        await alice.get("/sess/login?user=alice");
        const first = await alice.get(`/sess/touch?n=${n}`);
        const renewed = setCookiePairs(first.headers["set-cookie"]);
        const stranger = await app.http.get(`/sess/touch?n=${n}`);
        for (const pair of renewed) expect(setCookiePairs(stranger.headers["set-cookie"])).to.not.include(pair);
        if (renewed.length > 0) {
          expect(stranger.headers["x-cache"]).to.not.equal("HIT");
          expect(calls.of("touch")).to.equal(2);
        }
      });
    });
  }
}
