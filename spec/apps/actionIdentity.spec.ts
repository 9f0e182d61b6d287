import { expect } from "chai";
import { Authorized, Get, JsonController, QueryParam, type Action } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, resetCachePageConfig, type CacheRequest } from "../../src";
import { ALL_DRIVERS } from "../support/apps";
import { CallCounter, nonce, startRealApp, type RealApp } from "../support/realApps";

// SPEC §4: "An entry is served only through the action that stored it: two actions whose keys
// coincide never serve each other's pages (a page stored by an `@Authorized` action never reaches
// an unguarded one)."

const calls = new CallCounter();
/** Every action below gives the same key and the same prefix for the same ?n= */
const same = { timeout: 60, keyFunc: (r: CacheRequest) => `same:${r.query.n}`, prefix: "shared-prefix", cacheAuthorized: true };

function tokenOf(action: Action): string | undefined {
  const req = (action.context ? action.context.request : action.request) as { headers: Record<string, string | undefined> };
  return req.headers.authorization;
}

const routing = {
  authorizationChecker: (action: Action, roles: string[]) => {
    const token = tokenOf(action);
    if (roles.includes("admin")) return token === "Bearer admin";
    return token === "Bearer good" || token === "Bearer admin";
  },
};

@Service()
@JsonController("/ident")
class IdentityController {
  @Get("/guarded")
  @Authorized()
  @CachePage(same)
  guarded(@QueryParam("n") n: string) {
    return { from: "guarded", secret: `s3cret-${n}`, call: calls.hit(`guarded:${n}`) };
  }

  @Get("/admin")
  @Authorized("admin")
  @CachePage(same)
  admin(@QueryParam("n") n: string) {
    return { from: "admin", secret: `admin-s3cret-${n}`, call: calls.hit(`admin:${n}`) };
  }

  @Get("/open")
  @CachePage(same)
  open(@QueryParam("n") n: string) {
    return { from: "open", call: calls.hit(`open:${n}`) };
  }

  @Get("/open2")
  @CachePage(same)
  open2(@QueryParam("n") n: string) {
    return { from: "open2", call: calls.hit(`open2:${n}`) };
  }
}

/** Another controller with a method of the same name and the same key. */
@Service()
@JsonController("/ident-other")
class OtherIdentityController {
  @Get("/open")
  @CachePage(same)
  open(@QueryParam("n") n: string) {
    return { from: "other-open", call: calls.hit(`otherOpen:${n}`) };
  }
}

for (const driver of ALL_DRIVERS) {
  describe(`apps: an entry is served only through the action that stored it (${driver})`, () => {
    let app: RealApp;
    before(async () => {
      app = await startRealApp(driver, { controllers: [IdentityController, OtherIdentityController], routing });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls.reset();
    });

    it("a page stored by an @Authorized action never reaches an unguarded action with the same key and prefix (SPEC §4)", async () => {
      const n = nonce();
      const guarded = await app.http.get(`/ident/guarded?n=${n}`).set("Authorization", "Bearer good");
      expect(guarded.body.from).to.equal("guarded");
      const guardedHit = await app.http.get(`/ident/guarded?n=${n}`).set("Authorization", "Bearer good");
      expect(guardedHit.headers["x-cache"]).to.equal("HIT");

      const open = await app.http.get(`/ident/open?n=${n}`);
      expect(open.status).to.equal(200);
      expect(open.text).to.not.contain("s3cret");
      expect(open.body).to.deep.equal({ from: "open", call: 1 });
      expect(open.headers["x-cache"]).to.not.equal("HIT");
      const openHit = await app.http.get(`/ident/open?n=${n}`);
      expect(openHit.body).to.deep.equal({ from: "open", call: 1 });
      expect(openHit.headers["x-cache"]).to.equal("HIT");
    });

    it("a page stored by an unguarded action never answers the @Authorized action with the same key", async () => {
      const n = nonce();
      await app.http.get(`/ident/open?n=${n}`);
      await app.http.get(`/ident/open?n=${n}`);
      const guarded = await app.http.get(`/ident/guarded?n=${n}`).set("Authorization", "Bearer good");
      expect(guarded.body).to.deep.equal({ from: "guarded", secret: `s3cret-${n}`, call: 1 });
      expect(guarded.headers["x-cache"]).to.not.equal("HIT");
      expect((await app.http.get(`/ident/guarded?n=${n}`)).status, "the guard still refuses").to.equal(401);
    });

    it("two unguarded actions of one controller with the same key never serve each other's page", async () => {
      // One key holds one entry: the actions replace each other's entry (the key is what keyFunc
      // says, so invalidateKey still finds it), and neither is ever answered with the other's page.
      const n = nonce();
      await app.http.get(`/ident/open?n=${n}`);
      const open2 = await app.http.get(`/ident/open2?n=${n}`);
      expect(open2.body).to.deep.equal({ from: "open2", call: 1 });
      const open2Hit = await app.http.get(`/ident/open2?n=${n}`);
      expect(open2Hit.body.from).to.equal("open2");
      expect(open2Hit.headers["x-cache"]).to.equal("HIT");
      const open = await app.http.get(`/ident/open?n=${n}`);
      expect(open.body.from).to.equal("open");
      expect(open.headers["x-cache"]).to.equal("MISS");
    });

    it("same method name and key in two controllers: each serves only its own page", async () => {
      const n = nonce();
      await app.http.get(`/ident/open?n=${n}`);
      const other = await app.http.get(`/ident-other/open?n=${n}`);
      expect(other.body).to.deep.equal({ from: "other-open", call: 1 });
      expect((await app.http.get(`/ident-other/open?n=${n}`)).body.from).to.equal("other-open");
      expect((await app.http.get(`/ident/open?n=${n}`)).body.from).to.equal("open");
    });

    it("an admin-only page never reaches an action with a weaker guard and the same key", async () => {
      const n = nonce();
      const admin = await app.http.get(`/ident/admin?n=${n}`).set("Authorization", "Bearer admin");
      expect(admin.body.from).to.equal("admin");
      const guarded = await app.http.get(`/ident/guarded?n=${n}`).set("Authorization", "Bearer good");
      expect(guarded.text).to.not.contain("admin-s3cret");
      expect(guarded.body.from).to.equal("guarded");
      const refused = await app.http.get(`/ident/admin?n=${n}`).set("Authorization", "Bearer good");
      expect(refused.status).to.equal(403);
      expect(refused.text).to.not.contain("s3cret");
    });
  });
}
