import { expect } from "chai";
import { Authorized, CurrentUser, Get, JsonController, QueryParam, Req, type Action } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, generateCacheKey, invalidateTag, resetCachePageConfig, surrogateFromUser, type CacheRequest } from "../../src";
import { ALL_DRIVERS } from "../support/apps";
import { CallCounter, nonce, startRealApp, type RealApp } from "../support/realApps";

// SPEC §2: "`user` is what routing-controllers' `currentUserChecker` returns for this request
// (awaited; the same value `@CurrentUser()` gets) when the app configures one ... A `keyFunc`,
// `prefix`, `onlyIf` or tag callable that reads `user` therefore sees the real user, on guarded and
// unguarded actions alike. Hits of actions whose callbacks never read `user` keep the fast path (no
// `currentUserChecker` call)."

const calls = new CallCounter();
let checkerCalls = 0;

interface User {
  id: string;
  name: string;
}

/** The user named by `X-User: <id>` or `Authorization: Bearer <id>`, as an app would resolve it (a session cookie works the same way). */
function userFromHeaders(headers: Record<string, string | string[] | undefined>): User | undefined {
  const header = headers["x-user"];
  const auth = headers.authorization;
  const id = typeof header === "string" ? header : typeof auth === "string" && auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
  return id ? { id, name: `name of ${id}` } : undefined;
}

function requestOf(action: Action): { headers: Record<string, string | string[] | undefined> } {
  return (action.context ? action.context.request : action.request) as { headers: Record<string, string | string[] | undefined> };
}

const routing = {
  currentUserChecker: async (action: Action) => {
    checkerCalls += 1;
    await Promise.resolve(); // awaited, like a real lookup
    return userFromHeaders(requestOf(action).headers);
  },
  authorizationChecker: (action: Action) => userFromHeaders(requestOf(action).headers) !== undefined,
};

const perUserKey = (r: CacheRequest) => `${generateCacheKey(r)}:${(r.user as User | undefined)?.id}`;

/** What the action itself knows about the visitor (never through the cache). */
function visitorOf(req: any): string | null {
  return userFromHeaders(req.headers)?.id ?? null;
}

@Service()
@JsonController("/me")
class UserController {
  @Get("/open")
  @CachePage({ timeout: 60, keyFunc: perUserKey, tags: [surrogateFromUser], cacheAuthorized: true })
  open(@Req() req: any, @QueryParam("n") n: string) {
    return { n, visitor: visitorOf(req), call: calls.hit(`open:${n}`) };
  }

  @Get("/open-current")
  @CachePage({ timeout: 60, keyFunc: perUserKey, cacheAuthorized: true })
  openCurrent(@CurrentUser() user: User | undefined, @QueryParam("n") n: string) {
    return { n, visitor: user?.id ?? null, call: calls.hit(`openCurrent:${n}`) };
  }

  @Get("/guarded")
  @Authorized()
  @CachePage({ timeout: 60, keyFunc: perUserKey, tags: [surrogateFromUser], cacheAuthorized: true })
  guarded(@Req() req: any, @QueryParam("n") n: string) {
    return { n, visitor: visitorOf(req), call: calls.hit(`guarded:${n}`) };
  }

  @Get("/prefixed")
  @CachePage({ timeout: 60, keyFunc: (r) => r.url, prefix: (r) => `tenant-${(r.user as User | undefined)?.id ?? "none"}` })
  prefixed(@Req() req: any, @QueryParam("n") n: string) {
    return { n, visitor: visitorOf(req), call: calls.hit(`prefixed:${n}`) };
  }

  @Get("/anonymous-only")
  @CachePage({ timeout: 60, keyFunc: (r) => r.url, onlyIf: (r) => r.user === undefined })
  anonymousOnly(@Req() req: any, @QueryParam("n") n: string) {
    return { n, visitor: visitorOf(req), call: calls.hit(`anonymousOnly:${n}`) };
  }

  @Get("/fast")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey, tags: [(r) => `page-${r.query.n}`] })
  fast(@QueryParam("n") n: string) {
    return { n, call: calls.hit(`fast:${n}`) };
  }

  @Get("/fast-guarded")
  @Authorized()
  @CachePage({ timeout: 60, keyFunc: generateCacheKey })
  fastGuarded(@QueryParam("n") n: string) {
    return { n, call: calls.hit(`fastGuarded:${n}`) };
  }
}

for (const driver of ALL_DRIVERS) {
  describe(`apps: the user from currentUserChecker (${driver})`, () => {
    let app: RealApp;
    before(async () => {
      app = await startRealApp(driver, { controllers: [UserController], routing });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls.reset();
      checkerCalls = 0;
    });

    for (const route of ["open", "open-current", "guarded"]) {
      const counter = route === "open-current" ? "openCurrent" : route;
      it(`Alice and Bob get their own pages on /me/${route} with a keyFunc that reads r.user (SPEC §2)`, async () => {
        const n = nonce();
        const alice = `alice-${n}`;
        const bob = `bob-${n}`;
        const path = `/me/${route}?n=${n}`;
        const a1 = await app.http.get(path).set("X-User", alice);
        expect(a1.body).to.deep.equal({ n, visitor: alice, call: 1 });
        const b1 = await app.http.get(path).set("X-User", bob);
        expect(b1.headers["x-cache"], "Bob's first request").to.equal("MISS");
        expect(b1.body).to.deep.equal({ n, visitor: bob, call: 2 });
        const a2 = await app.http.get(path).set("X-User", alice);
        expect(a2.headers["x-cache"]).to.equal("HIT");
        expect(a2.body).to.deep.equal({ n, visitor: alice, call: 1 });
        const b2 = await app.http.get(path).set("X-User", bob);
        expect(b2.headers["x-cache"]).to.equal("HIT");
        expect(b2.body).to.deep.equal({ n, visitor: bob, call: 2 });
        expect(calls.of(`${counter}:${n}`)).to.equal(2);
      });
    }

    it("an anonymous visitor never gets Alice's page from an unguarded per-user action", async () => {
      const n = nonce();
      const path = `/me/open?n=${n}`;
      await app.http.get(path).set("X-User", `alice-${n}`);
      await app.http.get(path).set("X-User", `alice-${n}`);
      const anonymous = await app.http.get(path);
      expect(anonymous.body.visitor).to.equal(null);
      const anonymousAgain = await app.http.get(path);
      expect(anonymousAgain.body.visitor).to.equal(null);
    });

    it("the guarded per-user action keeps users apart when the user comes from Authorization (cacheAuthorized: true)", async () => {
      const n = nonce();
      const path = `/me/guarded?n=${n}`;
      await app.http.get(path).set("Authorization", `Bearer alice-${n}`);
      const bob = await app.http.get(path).set("Authorization", `Bearer bob-${n}`);
      expect(bob.body.visitor).to.equal(`bob-${n}`);
      const aliceHit = await app.http.get(path).set("Authorization", `Bearer alice-${n}`);
      expect(aliceHit.headers["x-cache"]).to.equal("HIT");
      expect(aliceHit.body.visitor).to.equal(`alice-${n}`);
      expect((await app.http.get(path)).status).to.equal(401);
    });

    for (const route of ["open", "guarded"]) {
      it(`surrogateFromUser tags each user's page: invalidateTag("user-<id>") clears only that user's page on /me/${route}`, async () => {
        const n = nonce();
        const alice = `alice-${n}`;
        const bob = `bob-${n}`;
        const path = `/me/${route}?n=${n}`;
        await app.http.get(path).set("X-User", alice);
        await app.http.get(path).set("X-User", bob);
        expect(calls.of(`${route}:${n}`)).to.equal(2);

        const deleted = await invalidateTag(`user-${alice}`);
        expect(deleted).to.be.at.least(1);

        const a = await app.http.get(path).set("X-User", alice);
        expect(a.headers["x-cache"]).to.equal("MISS");
        expect(a.body).to.deep.equal({ n, visitor: alice, call: 3 });
        const b = await app.http.get(path).set("X-User", bob);
        expect(b.headers["x-cache"]).to.equal("HIT");
        expect(b.body).to.deep.equal({ n, visitor: bob, call: 2 });
      });
    }

    it("a prefix that reads r.user gives each user their own page", async () => {
      const n = nonce();
      const path = `/me/prefixed?n=${n}`;
      await app.http.get(path).set("X-User", `alice-${n}`);
      const bob = await app.http.get(path).set("X-User", `bob-${n}`);
      expect(bob.headers["x-cache"]).to.equal("MISS");
      expect(bob.body.visitor).to.equal(`bob-${n}`);
      const anonymous = await app.http.get(path);
      expect(anonymous.body.visitor).to.equal(null);
      const aliceHit = await app.http.get(path).set("X-User", `alice-${n}`);
      expect(aliceHit.headers["x-cache"]).to.equal("HIT");
      expect(aliceHit.body.visitor).to.equal(`alice-${n}`);
    });

    it("an onlyIf that reads r.user sees the real user: a logged-in visitor bypasses, the anonymous page is cached", async () => {
      const n = nonce();
      const path = `/me/anonymous-only?n=${n}`;
      const anonymous1 = await app.http.get(path);
      expect(anonymous1.body.visitor).to.equal(null);
      const alice = await app.http.get(path).set("X-User", `alice-${n}`);
      expect(alice.headers["x-cache"]).to.equal("BYPASS");
      expect(alice.body.visitor).to.equal(`alice-${n}`);
      const anonymous2 = await app.http.get(path);
      expect(anonymous2.headers["x-cache"]).to.equal("HIT");
      expect(anonymous2.body).to.deep.equal({ n, visitor: null, call: 1 });
    });

    it("the onlyIf bypass of a logged-in visitor never stores their page for anonymous visitors", async () => {
      const n = nonce();
      const path = `/me/anonymous-only?n=${n}`;
      await app.http.get(path).set("X-User", `alice-${n}`);
      const anonymous = await app.http.get(path);
      expect(anonymous.body.visitor).to.equal(null);
    });

    for (const route of ["fast", "fast-guarded"]) {
      it(`a hit of /me/${route}, whose callbacks never read user, never calls currentUserChecker (SPEC §2 fast path)`, async () => {
        const n = nonce();
        const path = `/me/${route}?n=${n}`;
        const miss = await app.http.get(path).set("X-User", `alice-${n}`);
        expect(miss.status).to.equal(200);
        const before = checkerCalls;
        const hit = await app.http.get(path).set("X-User", `alice-${n}`);
        expect(hit.headers["x-cache"]).to.equal("HIT");
        expect(checkerCalls, "currentUserChecker calls on the hit").to.equal(before);
      });
    }
  });
}
