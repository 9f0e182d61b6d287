import { expect } from "chai";
import { Authorized, Get, Header, JsonController, QueryParam, type Action } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, resetCachePageConfig, type CacheRequest } from "../../src";
import { ALL_DRIVERS, type Driver } from "../support/apps";
import { CallCounter, nonce, ownCacheStatus, cacheStatusMembers, startRealApp, type RealApp } from "../support/realApps";

// SPEC §8 "Status headers": "A hit adds `X-Cache: HIT`, a miss `X-Cache: MISS`, a bypass
// `X-Cache: BYPASS` — the same on Express and Koa, also when a guard refuses. Every response of a
// cached action also carries an RFC 9211 `Cache-Status` entry for the cache `custom-cache-page`,
// after any the action set: `hit; ttl=<seconds left>` on a hit, `fwd=stale` when serving stale,
// `fwd=uri-miss` on a miss (with `stored` when it is known to be stored as the headers leave, or
// `detail=<why not>`), `fwd=bypass` on a bypass."

const calls = new CallCounter();
const byUrl = { timeout: 60, keyFunc: (r: CacheRequest) => r.url };

const routing = {
  authorizationChecker: (action: Action, roles: string[]) => {
    const req = (action.context ? action.context.request : action.request) as { headers: Record<string, string | undefined> };
    const token = req.headers.authorization;
    if (roles.includes("admin")) return token === "Bearer admin";
    return token === "Bearer good" || token === "Bearer admin";
  },
};

@Service()
@JsonController("/status")
class StatusController {
  @Get("/plain")
  @CachePage({ ...byUrl, onlyIf: (r) => r.query.skip === undefined })
  plain(@QueryParam("n") n: string) {
    return { n, call: calls.hit(`plain:${n}`) };
  }

  @Get("/private")
  @Header("Cache-Control", "private, max-age=30")
  @CachePage(byUrl)
  privateOne(@QueryParam("n") n: string) {
    return { n, call: calls.hit(`private:${n}`) };
  }

  @Get("/upstream")
  @Header("Cache-Status", "upstream-cache; fwd=uri-miss")
  @CachePage(byUrl)
  upstream(@QueryParam("n") n: string) {
    return { n, call: calls.hit(`upstream:${n}`) };
  }

  @Get("/guarded")
  @Authorized()
  @CachePage({ ...byUrl, cacheAuthorized: true })
  guarded(@QueryParam("n") n: string) {
    return { n, call: calls.hit(`guarded:${n}`) };
  }

  @Get("/admin")
  @Authorized("admin")
  @CachePage({ ...byUrl, cacheAuthorized: true })
  admin(@QueryParam("n") n: string) {
    return { n, call: calls.hit(`admin:${n}`) };
  }
}

/** The parameters of our one Cache-Status member (names lower case; `ttl` value kept). */
function ownParams(res: { headers: Record<string, any> }): string[] {
  const own = ownCacheStatus(res.headers["cache-status"]);
  expect(own, `one custom-cache-page member in Cache-Status: ${res.headers["cache-status"]}`).to.have.length(1);
  return own[0]
    .split(";")
    .slice(1)
    .map((p) => p.trim().toLowerCase())
    .filter((p) => p !== "");
}

/** X-Cache and Cache-Status tell the same story. */
function expectConsistent(res: { headers: Record<string, any> }, label: string): void {
  const xCache = res.headers["x-cache"];
  const params = ownParams(res);
  if (xCache === "HIT") expect(params, label).to.include("hit");
  else if (xCache === "MISS") expect(params, label).to.include("fwd=uri-miss");
  else if (xCache === "BYPASS") expect(params, label).to.include("fwd=bypass");
  else expect.fail(`${label}: X-Cache ${xCache}`);
}

for (const driver of ALL_DRIVERS) {
  describe(`apps: X-Cache and Cache-Status (${driver})`, () => {
    let app: RealApp;
    before(async () => {
      app = await startRealApp(driver, { controllers: [StatusController], routing });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls.reset();
    });

    it('a storable miss says X-Cache: MISS and Cache-Status "custom-cache-page; fwd=uri-miss", and never claims `stored`', async () => {
      // Whether it is stored is only known once every middleware around the cache had its say
      // (a session cookie added on the way out forbids it), after these headers left.
      const n = nonce();
      const miss = await app.http.get(`/status/plain?n=${n}`);
      expect(miss.headers["x-cache"]).to.equal("MISS");
      const params = ownParams(miss);
      expect(params).to.include("fwd=uri-miss");
      expect(params).to.not.include("stored");
      expect(params.some((p) => p.startsWith("detail="))).to.equal(false);
      expect((await app.http.get(`/status/plain?n=${n}`)).headers["x-cache"]).to.equal("HIT");
    });

    it('a hit says X-Cache: HIT and Cache-Status "custom-cache-page; hit; ttl=<seconds left>"', async () => {
      const n = nonce();
      await app.http.get(`/status/plain?n=${n}`);
      const hit = await app.http.get(`/status/plain?n=${n}`);
      expect(hit.headers["x-cache"]).to.equal("HIT");
      const params = ownParams(hit);
      expect(params).to.include("hit");
      expect(params).to.not.include("fwd=uri-miss");
      expect(params).to.not.include("stored");
      const ttl = params.find((p) => p.startsWith("ttl="));
      expect(ttl, "ttl parameter").to.be.a("string");
      expect(ttl).to.match(/^ttl=\d+$/);
      expect(Number(ttl!.slice(4))).to.be.within(58, 60);
    });

    it('a bypass says X-Cache: BYPASS and Cache-Status "custom-cache-page; fwd=bypass"', async () => {
      const n = nonce();
      const bypass = await app.http.get(`/status/plain?n=${n}&skip=1`);
      expect(bypass.headers["x-cache"]).to.equal("BYPASS");
      expect(ownParams(bypass)).to.include("fwd=bypass");
    });

    it("a response that is not stored never claims `stored` or `hit`, and its two headers agree", async () => {
      const n = nonce();
      for (let i = 0; i < 2; i++) {
        const res = await app.http.get(`/status/private?n=${n}`);
        expect(res.headers["x-cache"]).to.be.oneOf(["MISS", "BYPASS"]);
        const params = ownParams(res);
        expect(params).to.not.include("stored");
        expect(params).to.not.include("hit");
        expectConsistent(res, `private #${i + 1}`);
      }
      expect(calls.of(`private:${n}`)).to.equal(2);
    });

    it("our Cache-Status member comes after the one the action set, once, on the miss and on the hit", async () => {
      const n = nonce();
      for (const expected of ["MISS", "HIT", "HIT"]) {
        const res = await app.http.get(`/status/upstream?n=${n}`);
        expect(res.headers["x-cache"]).to.equal(expected);
        const members = cacheStatusMembers(res.headers["cache-status"]);
        expect(members, String(res.headers["cache-status"])).to.have.length(2);
        expect(members[0]).to.equal("upstream-cache; fwd=uri-miss");
        expect(members[1].split(";")[0].trim()).to.equal("custom-cache-page");
        expectConsistent(res, expected);
      }
    });

    for (const [label, path, token, status] of [
      ["401 (no credentials)", "/status/guarded", undefined, 401],
      ["401 (wrong credentials)", "/status/guarded", "Bearer bad", 401],
      ["403 (missing role)", "/status/admin", "Bearer good", 403],
    ] as const) {
      it(`when a guard refuses with ${label}, after the page was stored, X-Cache and Cache-Status are sent and agree`, async () => {
        const n = nonce();
        const url = `${path}?n=${n}`;
        const filled = await app.http.get(url).set("Authorization", path === "/status/admin" ? "Bearer admin" : "Bearer good");
        expect(filled.status).to.equal(200);
        const req = app.http.get(url);
        const refused = await (token ? req.set("Authorization", token) : req);
        expect(refused.status).to.equal(status);
        expect(refused.headers["x-cache"]).to.be.oneOf(["MISS", "BYPASS"]);
        expectConsistent(refused, label);
        expect(ownParams(refused)).to.not.include("hit");
      });
    }
  });
}

describe("apps: X-Cache and Cache-Status are the same on every driver", () => {
  const apps = new Map<Driver, RealApp>();
  before(async () => {
    for (const driver of ALL_DRIVERS) apps.set(driver, await startRealApp(driver, { controllers: [StatusController], routing }));
  });
  after(async () => {
    for (const app of apps.values()) await app.close();
  });
  beforeEach(() => resetCachePageConfig());

  it("gives the same X-Cache and Cache-Status (ttl aside) on Express 4, Express 5 and Koa for the same requests, guard refusals included", async () => {
    const stepsFor = (n: string): Array<[string, string | undefined]> => [
      [`/status/plain?n=${n}`, undefined],
      [`/status/plain?n=${n}`, undefined],
      [`/status/plain?n=${n}&skip=1`, undefined],
      [`/status/private?n=${n}`, undefined],
      [`/status/guarded?n=${n}`, undefined],
      [`/status/guarded?n=${n}`, "Bearer good"],
      [`/status/guarded?n=${n}`, "Bearer good"],
      [`/status/guarded?n=${n}`, undefined],
      [`/status/admin?n=${n}`, "Bearer good"],
      [`/status/admin?n=${n}`, "Bearer admin"],
      [`/status/admin?n=${n}`, "Bearer good"],
    ];
    const seen: Record<string, string[]> = {};
    for (const [driver, app] of apps) {
      seen[driver] = [];
      // Each driver its own keys: the apps share the process's backend.
      const n = nonce(driver);
      for (const [url, token] of stepsFor(n)) {
        const req = app.http.get(url);
        const res = await (token ? req.set("Authorization", token) : req);
        const own = ownCacheStatus(res.headers["cache-status"]).map((m) => m.replace(/;\s*ttl=\d+/, ""));
        seen[driver].push(`${url.replace(n, "N")} ${token ?? "-"} -> ${res.status} X-Cache=${res.headers["x-cache"]} Cache-Status=${own.join(",")}`);
      }
    }
    expect(seen.express5, "Express 5 vs Express 4").to.deep.equal(seen.express);
    expect(seen.koa, "Koa vs Express 4").to.deep.equal(seen.express);
    for (const line of seen.express) expect(line).to.not.match(/X-Cache=undefined|Cache-Status=$/);
  });
});
