import { expect } from "chai";
import { Body, ContentType, Controller, Get, Header, HttpCode, JsonController, Param, Post, QueryParam, Req, UseBefore } from "routing-controllers";
import { Service } from "typedi";
import {
  CachePage,
  doNotCache,
  generateCacheKey,
  invalidateKey,
  invalidateTag,
  invalidateTags,
  Invalidator,
  resetCachePageConfig,
  Tags,
  versioned,
  type CacheRequest,
} from "../../src";
import { ALL_DRIVERS, startApp, type TestApp } from "../support/apps";
import { recordLogs } from "../support/recordingLogger";

const calls: Record<string, number> = {};
const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
let seenRequests: CacheRequest[] = [];

function markBeforeAction(a: any, b: any, c?: any) {
  if (typeof c === "function") {
    if (a.query.skip) a.doNotCache = true;
    return c();
  }
  if (a.query.skip) a.doNotCache = true;
  return b();
}

@Service()
@JsonController("/core")
class CoreController {
  constructor(private readonly invalidator: Invalidator) {}

  @Get("/json")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey, tags: ["products"] })
  json(@QueryParam("page") page: string) {
    return { page: page ?? "1", call: count("json") };
  }

  @Get("/created")
  @HttpCode(201)
  @Header("X-Custom", "yes")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path, statuses: [201] })
  created() {
    return { call: count("created") };
  }

  @Get("/not-in-statuses")
  @HttpCode(201)
  @CachePage({ timeout: 60, keyFunc: (r) => r.path })
  notInStatuses() {
    return { call: count("notInStatuses") };
  }

  @Get("/tagged/:id")
  @CachePage({
    timeout: 60,
    keyFunc: (r) => r.path,
    tags: [(r) => `item-${r.params.id}`, (r) => (r.params.id === "1" ? ["odd", "first"] : null), versioned("catalog")],
  })
  @Tags(
    "items",
    () => undefined,
    () => [],
  )
  tagged(@Param("id") id: string) {
    return { id, call: count(`tagged-${id}`) };
  }

  @Get("/versioned")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path, tags: [versioned("vonly"), "both"] })
  versionedOnly() {
    return { call: count("versioned") };
  }

  @Get("/both-versioned")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path, tags: [versioned("both")] })
  bothVersioned() {
    return { call: count("bothVersioned") };
  }

  @Get("/only-if")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path, onlyIf: (r) => r.query.anon === "1" })
  onlyIf() {
    return { call: count("onlyIf") };
  }

  @Get("/skip-before")
  @UseBefore(markBeforeAction)
  @CachePage({ timeout: 60, keyFunc: (r) => r.path })
  skipBefore() {
    return { call: count("skipBefore") };
  }

  @Get("/skip-inside")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path })
  skipInside(@Req() req: any, @QueryParam("flag") flag: string, @QueryParam("fn") fn: string) {
    const native = req.ctx ?? req; // Koa's @Req() is ctx.request; both are accepted
    if (flag) native.doNotCache = true;
    if (fn) doNotCache(native);
    return { call: count("skipInside") };
  }

  @Get("/throwing-key")
  @CachePage({
    timeout: 60,
    keyFunc: () => {
      throw new Error("boom");
    },
  })
  throwingKey() {
    return { call: count("throwingKey") };
  }

  @Get("/non-string-key")
  @CachePage({ timeout: 60, keyFunc: (() => 42) as unknown as (r: CacheRequest) => string })
  nonStringKey() {
    return { call: count("nonStringKey") };
  }

  @Get("/throwing-tag")
  @CachePage({
    timeout: 60,
    keyFunc: (r) => r.path,
    tags: [
      () => {
        throw new Error("tag boom");
      },
    ],
  })
  throwingTag() {
    return { call: count("throwingTag") };
  }

  @Get("/zero-timeout")
  @CachePage({ timeout: () => 0, keyFunc: (r) => r.path })
  zeroTimeout() {
    return { call: count("zeroTimeout") };
  }

  @Get("/prefixed")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path, prefix: (r) => String(r.headers["x-tenant"] ?? "none") })
  prefixed() {
    return { call: count("prefixed") };
  }

  @Get("/request-view/:id")
  @CachePage({
    timeout: 60,
    keyFunc: (r) => {
      seenRequests.push(r);
      return r.url;
    },
  })
  requestView(@Param("id") id: string) {
    return { id };
  }

  @Post("/invalidate")
  async invalidate(@Body() body: { tags: string[] }) {
    return { result: await this.invalidator.invalidateTags(body.tags) };
  }

  @Post("/json")
  postJson() {
    return { call: count("postJson") };
  }
}

@Service()
@Controller("/text")
class TextController {
  @Get("/plain")
  @ContentType("text/plain; charset=utf-8")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path })
  plain() {
    count("plain");
    return "héllo wörld";
  }

  @Get("/html")
  @CachePage({ timeout: 60, keyFunc: (r) => r.path })
  html() {
    count("html");
    return "<p>hi</p>";
  }
}

for (const driver of ALL_DRIVERS) {
  describe(`@CachePage end to end (${driver})`, () => {
    let app: TestApp;
    before(async () => {
      app = await startApp(driver, [CoreController, TextController]);
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      for (const k of Object.keys(calls)) delete calls[k];
      seenRequests = [];
    });

    it("runs the action on the first GET and answers the second from the cache, byte for byte", async () => {
      const miss = await app.http.get("/core/json?page=2");
      const hit = await app.http.get("/core/json?page=2");
      expect(miss.status).to.equal(200);
      expect(miss.headers["x-cache"]).to.equal("MISS");
      expect(hit.headers["x-cache"]).to.equal("HIT");
      expect(hit.text).to.equal(miss.text);
      expect(hit.headers["content-type"]).to.equal(miss.headers["content-type"]);
      expect(calls.json).to.equal(1);
    });

    it("keeps entries apart by key", async () => {
      await app.http.get("/core/json?page=1");
      const other = await app.http.get("/core/json?page=2");
      expect(other.headers["x-cache"]).to.equal("MISS");
      expect(calls.json).to.equal(2);
      const same = await app.http.get("/core/json?page=1");
      expect(same.body).to.deep.equal({ page: "1", call: 1 });
    });

    it("replays @HttpCode and @Header on a hit", async () => {
      const miss = await app.http.get("/core/created");
      const hit = await app.http.get("/core/created");
      expect(miss.status).to.equal(201);
      expect(hit.status).to.equal(201);
      expect(hit.headers["x-custom"]).to.equal("yes");
      expect(hit.headers["x-cache"]).to.equal("HIT");
      expect(calls.created).to.equal(1);
    });

    it("does not store a status outside statuses", async () => {
      await app.http.get("/core/not-in-statuses");
      const again = await app.http.get("/core/not-in-statuses");
      expect(again.status).to.equal(201);
      expect(again.headers["x-cache"]).to.equal("BYPASS");
      expect(calls.notInStatuses).to.equal(2);
    });

    it("caches text with its Content-Type and charset, byte for byte", async () => {
      const miss = await app.http.get("/text/plain");
      const hit = await app.http.get("/text/plain");
      expect(hit.headers["x-cache"]).to.equal("HIT");
      expect(hit.text).to.equal("héllo wörld");
      expect(hit.headers["content-type"]).to.equal(miss.headers["content-type"]);
      expect(hit.headers["content-length"]).to.equal(String(Buffer.byteLength("héllo wörld")));
      await app.http.get("/text/html");
      const html = await app.http.get("/text/html");
      expect(html.text).to.equal("<p>hi</p>");
      expect(calls.plain).to.equal(1);
      expect(calls.html).to.equal(1);
    });

    it("passes POST through untouched, even on a cached path", async () => {
      await app.http.get("/core/json");
      const post = await app.http.post("/core/json");
      expect(post.body).to.deep.equal({ call: 1 });
      expect(post.headers["x-cache"]).to.equal(undefined);
    });

    it("invalidates a plain tag: deletes its entries and returns how many", async () => {
      await app.http.get("/core/json?page=1");
      await app.http.get("/core/json?page=2");
      expect(await invalidateTag("products")).to.equal(2);
      const after = await app.http.get("/core/json?page=1");
      expect(after.headers["x-cache"]).to.equal("MISS");
      expect(calls.json).to.equal(3);
      expect(await invalidateTag("products")).to.equal(1);
    });

    it("merges @Tags with options.tags and resolves callables (string, array, null, undefined, [])", async () => {
      await app.http.get("/core/tagged/1");
      await app.http.get("/core/tagged/2");
      expect(await invalidateTag("first")).to.equal(1); // only id 1 had ["odd", "first"]
      expect((await app.http.get("/core/tagged/1")).headers["x-cache"]).to.equal("MISS");
      expect((await app.http.get("/core/tagged/2")).headers["x-cache"]).to.equal("HIT");
      expect(await invalidateTag("items")).to.equal(2); // from @Tags
      expect((await app.http.get("/core/tagged/2")).headers["x-cache"]).to.equal("MISS");
      expect(await invalidateTag("item-2")).to.equal(1);
    });

    it("invalidates a versioned tag in O(1): returns a new version and every older entry misses", async () => {
      await app.http.get("/core/tagged/1");
      await app.http.get("/core/tagged/2");
      const v1 = await invalidateTag("catalog");
      expect(v1).to.be.a("number").greaterThan(0);
      expect((await app.http.get("/core/tagged/1")).headers["x-cache"]).to.equal("MISS");
      expect((await app.http.get("/core/tagged/2")).headers["x-cache"]).to.equal("MISS");
      expect((await app.http.get("/core/tagged/2")).headers["x-cache"]).to.equal("HIT");
      const v2 = await invalidateTag("catalog");
      expect(v2).to.be.greaterThan(v1);
    });

    it("does both for a name used plain and versioned", async () => {
      await app.http.get("/core/versioned"); // "both" is plain here
      await app.http.get("/core/both-versioned"); // and versioned here
      await invalidateTag("both");
      expect((await app.http.get("/core/versioned")).headers["x-cache"]).to.equal("MISS");
      expect((await app.http.get("/core/both-versioned")).headers["x-cache"]).to.equal("MISS");
      expect(calls.versioned).to.equal(2);
      expect(calls.bothVersioned).to.equal(2);
    });

    it("invalidates through the Invalidator injected by typedi into a controller", async () => {
      await app.http.get("/core/json?page=1");
      const res = await app.http.post("/core/invalidate").send({ tags: ["products"] });
      expect(res.body).to.deep.equal({ result: 1 });
      expect((await app.http.get("/core/json?page=1")).headers["x-cache"]).to.equal("MISS");
    });

    it("invalidates several tags and one key", async () => {
      await app.http.get("/core/json?page=1");
      await app.http.get("/core/tagged/2");
      expect(await invalidateTags(["products", "item-2"])).to.equal(2);
      await app.http.get("/core/created");
      expect(await invalidateKey("/core/created")).to.equal(true);
      expect((await app.http.get("/core/created")).headers["x-cache"]).to.equal("MISS");
      expect(await invalidateKey("/core/nothing")).to.equal(false);
    });

    it("caches only when onlyIf is true", async () => {
      await app.http.get("/core/only-if");
      const bypass = await app.http.get("/core/only-if");
      expect(bypass.headers["x-cache"]).to.equal("BYPASS");
      await app.http.get("/core/only-if?anon=1");
      expect((await app.http.get("/core/only-if?anon=1")).headers["x-cache"]).to.equal("HIT");
      expect(calls.onlyIf).to.equal(3);
    });

    it("honours doNotCache set by a middleware before the action: neither stored nor served", async () => {
      await app.http.get("/core/skip-before");
      const skipped = await app.http.get("/core/skip-before?skip=1");
      expect(skipped.headers["x-cache"]).to.equal("BYPASS");
      expect(skipped.body.call).to.equal(2);
      expect((await app.http.get("/core/skip-before")).headers["x-cache"]).to.equal("HIT");
    });

    it("honours doNotCache set inside the action (flag and function)", async () => {
      const flagged = await app.http.get("/core/skip-inside?flag=1");
      expect(flagged.headers["x-cache"]).to.equal("BYPASS");
      expect((await app.http.get("/core/skip-inside?flag=1")).headers["x-cache"]).to.equal("BYPASS");
      const viaFn = await app.http.get("/core/skip-inside?fn=1");
      expect(viaFn.headers["x-cache"]).to.equal("BYPASS");
      expect((await app.http.get("/core/skip-inside?fn=1")).headers["x-cache"]).to.equal("BYPASS");
      expect(calls.skipInside).to.equal(4);
    });

    it("runs the action uncached and reports it when keyFunc throws or returns a non-string", async () => {
      const logs = recordLogs();
      try {
        const a = await app.http.get("/core/throwing-key");
        const b = await app.http.get("/core/throwing-key");
        expect(a.status).to.equal(200);
        expect(b.body).to.deep.equal({ call: 2 });
        expect(b.headers["x-cache"]).to.equal("BYPASS");
        const c = await app.http.get("/core/non-string-key");
        expect(c.status).to.equal(200);
        expect(logs.messages.some((m) => m.includes("CoreController.throwingKey") && m.includes("boom"))).to.equal(true);
        expect(logs.messages.some((m) => m.includes("CoreController.nonStringKey") && m.includes("must return a string"))).to.equal(true);
      } finally {
        logs.restore();
      }
    });

    it("runs the action uncached when a tag callable throws", async () => {
      const logs = recordLogs();
      try {
        expect((await app.http.get("/core/throwing-tag")).status).to.equal(200);
        expect((await app.http.get("/core/throwing-tag")).body).to.deep.equal({ call: 2 });
        expect(logs.messages.some((m) => m.includes("tag boom"))).to.equal(true);
      } finally {
        logs.restore();
      }
    });

    it("does not store when the timeout function gives 0", async () => {
      await app.http.get("/core/zero-timeout");
      expect((await app.http.get("/core/zero-timeout")).body).to.deep.equal({ call: 2 });
    });

    it("keeps prefixes apart", async () => {
      await app.http.get("/core/prefixed").set("x-tenant", "a");
      expect((await app.http.get("/core/prefixed").set("x-tenant", "b")).headers["x-cache"]).to.equal("MISS");
      expect((await app.http.get("/core/prefixed").set("x-tenant", "a")).headers["x-cache"]).to.equal("HIT");
      expect(await invalidateKey("/core/prefixed", { prefix: "a" })).to.equal(true);
    });

    it("gives callbacks the same CacheRequest shape", async () => {
      await app.http.get("/core/request-view/42?b=2&a=1&a=3").set("X-Thing", "t");
      const r = seenRequests[0];
      expect(r.method).to.equal("GET");
      expect(r.path).to.equal("/core/request-view/42");
      expect(r.url).to.equal("/core/request-view/42?b=2&a=1&a=3");
      expect({ ...r.query }).to.deep.equal({ b: "2", a: ["1", "3"] });
      expect(r.params).to.deep.equal({ id: "42" });
      expect(r.headers["x-thing"]).to.equal("t");
      expect(r.raw).to.be.an("object");
    });
  });
}
