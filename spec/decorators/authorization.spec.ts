import { expect } from "chai";
import { Authorized, CurrentUser, Get, JsonController } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, resetCachePageConfig } from "../../src";
import { ALL_DRIVERS, startApp, tokenAuth, type TestApp } from "../support/apps";

let actionCalls = 0;
let checks = 0;

@Service()
@JsonController("/guarded")
class GuardedController {
  @Get("/method")
  @Authorized()
  @CachePage({ timeout: 60, keyFunc: (r) => r.path, cacheAuthorized: true })
  method() {
    actionCalls += 1;
    return { secret: "s3cret", call: actionCalls };
  }

  @Get("/user")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path, cacheAuthorized: true })
  user(@CurrentUser({ required: true }) user: { name: string }) {
    actionCalls += 1;
    return { name: user.name, call: actionCalls };
  }
}

@Service()
@Authorized()
@JsonController("/guarded-class")
class GuardedClassController {
  @Get("/")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path, cacheAuthorized: true })
  list() {
    actionCalls += 1;
    return { call: actionCalls };
  }
}

for (const driver of ALL_DRIVERS) {
  describe(`hits never bypass authorization (${driver})`, () => {
    let app: TestApp;
    before(async () => {
      app = await startApp(driver, [GuardedController, GuardedClassController], {
        authorizationChecker: (action) => {
          checks += 1;
          return tokenAuth.authorizationChecker(action);
        },
        currentUserChecker: tokenAuth.currentUserChecker,
      });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      actionCalls = 0;
      checks = 0;
    });

    for (const path of ["/guarded/method", "/guarded-class/"]) {
      it(`still answers 401 on ${path} after an authorized request filled the cache, and the guard ran`, async () => {
        const filled = await app.http.get(path).set("Authorization", "Bearer good");
        expect(filled.status).to.equal(200);
        const hit = await app.http.get(path).set("Authorization", "Bearer good");
        expect(hit.headers["x-cache"]).to.equal("HIT");
        expect(actionCalls).to.equal(1);
        const checksBefore = checks;
        const denied = await app.http.get(path);
        expect(denied.status).to.equal(401);
        expect(denied.text).not.to.contain("s3cret");
        expect(checks).to.equal(checksBefore + 1);
        const wrong = await app.http.get(path).set("Authorization", "Bearer bad");
        expect(wrong.status).to.equal(401);
      });
    }

    it("still enforces @CurrentUser({ required: true }) on a hit", async () => {
      await app.http.get("/guarded/user").set("Authorization", "Bearer good");
      const hit = await app.http.get("/guarded/user").set("Authorization", "Bearer good");
      expect(hit.headers["x-cache"]).to.equal("HIT");
      const anonymous = await app.http.get("/guarded/user");
      expect(anonymous.status).to.be.oneOf([401, 403]);
      expect(anonymous.text).not.to.contain("ann");
      expect(actionCalls).to.equal(1);
    });
  });
}
