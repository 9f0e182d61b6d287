import { expect } from "chai";
import { Get, Header, HttpCode, JsonController, Res } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, configureCachePage, resetCachePageConfig } from "../../src";
import { ALL_DRIVERS, startApp, type TestApp } from "../support/apps";

const calls: Record<string, number> = {};
const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
const page = { timeout: 60, keyFunc: (r: { path: string }) => r.path };

@Service()
@JsonController("/rules")
class RulesController {
  @Get("/plain")
  @Header("X-Custom", "kept")
  @CachePage(page)
  plain() {
    return { call: count("plain") };
  }

  @Get("/cookie")
  @CachePage(page)
  cookie(@Res() res: any) {
    if (typeof res.cookie === "function") res.cookie("sid", "abc");
    else res.ctx.cookies.set("sid", "abc");
    return { call: count("cookie") };
  }

  @Get("/private")
  @Header("Cache-Control", "Private, max-age=30")
  @CachePage(page)
  privateOne() {
    return { call: count("private") };
  }

  @Get("/no-store")
  @Header("Cache-Control", "max-age=30, NO-STORE")
  @CachePage(page)
  noStore() {
    return { call: count("noStore") };
  }

  @Get("/privateish")
  @Header("Cache-Control", "max-age=30, x-not-private=1")
  @CachePage(page)
  privateish() {
    return { call: count("privateish") };
  }

  @Get("/vary-star")
  @Header("Vary", "Accept, *")
  @CachePage(page)
  varyStar() {
    return { call: count("varyStar") };
  }

  @Get("/shorter")
  @Header("Cache-Control", "public, max-age=10")
  @CachePage(page)
  shorter() {
    return { call: count("shorter") };
  }

  @Get("/auth")
  @CachePage(page)
  auth() {
    return { call: count("auth") };
  }

  @Get("/auth-public")
  @Header("Cache-Control", "public, max-age=60")
  @CachePage(page)
  authPublic() {
    return { call: count("authPublic") };
  }

  @Get("/not-modified")
  @HttpCode(304)
  @CachePage({ ...page, statuses: [200, 304] })
  notModified() {
    count("notModified");
    return "";
  }

  @Get("/big")
  @CachePage(page)
  big() {
    count("big");
    return { data: "x".repeat(2000) };
  }
}

for (const driver of ALL_DRIVERS) {
  describe(`HTTP rules (${driver})`, () => {
    let app: TestApp;
    before(async () => {
      app = await startApp(driver, [RulesController]);
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      for (const k of Object.keys(calls)) delete calls[k];
    });

    it("adds max-age, Expires and an ETag to a stored response, and Age on a hit", async () => {
      const miss = await app.http.get("/rules/plain");
      expect(miss.headers["cache-control"]).to.equal("max-age=60");
      expect(new Date(miss.headers.expires).getTime()).to.be.closeTo(Date.now() + 60_000, 2_000);
      expect(miss.headers.etag).to.be.a("string");
      const hit = await app.http.get("/rules/plain");
      expect(hit.headers.age).to.match(/^\d+$/);
      expect(hit.headers.etag).to.equal(miss.headers.etag);
      expect(hit.headers["x-custom"]).to.equal("kept");
      expect(hit.headers.expires).to.equal(miss.headers.expires);
    });

    it("never stores a 304, even when statuses lists it", async () => {
      await app.http.get("/rules/not-modified");
      const again = await app.http.get("/rules/not-modified");
      expect(again.status).to.equal(304);
      expect(again.headers["x-cache"]).to.equal("BYPASS");
      expect(calls.notModified).to.equal(2);
    });

    it("does not store the 304 the framework gives a conditional miss", async () => {
      const conditional = await app.http.get("/rules/plain").set("If-None-Match", "*");
      expect(conditional.status).to.be.oneOf([200, 304]);
      const next = await app.http.get("/rules/plain");
      expect(next.status).to.equal(200);
      expect(next.body).to.have.property("call");
    });

    it("counts Age up in whole seconds while max-age and Expires keep the true end of life", async function () {
      this.timeout(5000);
      const miss = await app.http.get("/rules/plain");
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const hit = await app.http.get("/rules/plain");
      expect(Number(hit.headers.age)).to.be.within(1, 2);
      expect(hit.headers["cache-control"]).to.equal("max-age=60");
      expect(hit.headers.expires).to.equal(miss.headers.expires);
    });

    it("keeps the action's smaller max-age and its other directives", async () => {
      const miss = await app.http.get("/rules/shorter");
      expect(miss.headers["cache-control"]).to.equal("public, max-age=10");
    });

    it("answers HEAD from the GET entry with the same headers and no body", async () => {
      const get = await app.http.get("/rules/plain");
      const head = await app.http.head("/rules/plain");
      expect(head.headers["x-cache"]).to.equal("HIT");
      expect(head.headers["content-length"]).to.equal(get.headers["content-length"]);
      expect(head.headers["content-type"]).to.equal(get.headers["content-type"]);
      expect(head.text ?? "").to.equal("");
      expect(calls.plain).to.equal(1);
    });

    it("does not store an empty HEAD miss as the GET page", async () => {
      await app.http.head("/rules/plain");
      const get = await app.http.get("/rules/plain");
      expect(get.body).to.have.property("call");
      expect(get.headers["x-cache"]).to.equal("MISS");
    });

    it("answers If-None-Match with 304 and no body on a hit", async () => {
      const miss = await app.http.get("/rules/plain");
      const notModified = await app.http.get("/rules/plain").set("If-None-Match", `"nope", ${miss.headers.etag}`);
      expect(notModified.status).to.equal(304);
      expect(notModified.text ?? "").to.equal("");
      expect(notModified.headers.etag).to.equal(miss.headers.etag);
      expect(notModified.headers["x-custom"]).to.equal(undefined);
      const other = await app.http.get("/rules/plain").set("If-None-Match", '"other"');
      expect(other.status).to.equal(200);
      const garbage = await app.http.get("/rules/plain").set("If-None-Match", 'W/garbage,,,"');
      expect(garbage.status).to.equal(200);
    });

    for (const [path, name] of [
      ["/rules/cookie", "cookie"],
      ["/rules/private", "private"],
      ["/rules/no-store", "noStore"],
      ["/rules/vary-star", "varyStar"],
    ] as const) {
      it(`never stores ${path}`, async () => {
        await app.http.get(path);
        const again = await app.http.get(path);
        expect(again.headers["x-cache"]).to.equal("BYPASS");
        expect(calls[name]).to.equal(2);
      });
    }

    it("matches Cache-Control directives, not substrings of other words", async () => {
      await app.http.get("/rules/privateish");
      expect((await app.http.get("/rules/privateish")).headers["x-cache"]).to.equal("HIT");
    });

    it("does not store or serve for requests with Authorization unless the response is public", async () => {
      await app.http.get("/rules/auth");
      const withAuth = await app.http.get("/rules/auth").set("Authorization", "Bearer x");
      expect(withAuth.headers["x-cache"]).to.equal("BYPASS");
      expect(calls.auth).to.equal(2);
      await app.http.get("/rules/auth-public").set("Authorization", "Bearer x");
      expect((await app.http.get("/rules/auth-public").set("Authorization", "Bearer y")).headers["x-cache"]).to.equal("HIT");
    });

    it("passes a body larger than maxBodySize through without storing it", async () => {
      configureCachePage({ maxBodySize: 1000 });
      const first = await app.http.get("/rules/big");
      expect(first.body.data).to.have.length(2000);
      expect((await app.http.get("/rules/big")).headers["x-cache"]).to.equal("BYPASS");
      expect(calls.big).to.equal(2);
    });

    it("uses a configured cache status header name, or none", async () => {
      configureCachePage({ cacheStatusHeader: "X-Page-Cache" });
      await app.http.get("/rules/plain");
      expect((await app.http.get("/rules/plain")).headers["x-page-cache"]).to.equal("HIT");
      configureCachePage({ cacheStatusHeader: false });
      const none = await app.http.get("/rules/plain");
      expect(none.headers["x-cache"]).to.equal(undefined);
      expect(none.headers["x-page-cache"]).to.equal(undefined);
    });
  });
}
