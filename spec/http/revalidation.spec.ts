import { expect } from "chai";
import { Controller, Ctx, Get, Header, Req, Res, UseBefore } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, generateCacheKey, resetCachePageConfig, type CacheRequest } from "../../src";
import { ALL_DRIVERS, sleep, startApp, type TestApp } from "../support/apps";

const key = (r: CacheRequest) => generateCacheKey(r);

/** What the action is, and what it and the app's outer middleware saw of each request. */
const state = { version: 1, calls: 0, actionSaw: [] as Array<string | undefined>, outerSaw: [] as Array<string | undefined> };

/** The action's answer: 304 when the request's If-None-Match names the current version. */
function answer(ifNoneMatch: string | undefined): { status: number; headers: Record<string, string>; body?: string } {
  state.calls += 1;
  state.actionSaw.push(ifNoneMatch);
  const etag = `"v${state.version}"`;
  if (ifNoneMatch === etag) return { status: 304, headers: { etag, "cache-control": "max-age=1", "x-answer": String(state.calls) } };
  return {
    status: 200,
    headers: { etag, "cache-control": "max-age=1", "x-answer": String(state.calls), "x-first": String(state.calls), "content-type": "text/plain" },
    body: `page v${state.version}`,
  };
}

/**
 * Runs around the cache (a controller-level middleware comes before the action's own): records what
 * it sees of the request once the response is done. Not a global @Middleware class, which every
 * other app of the process would pick up.
 */
function outer(first: any, second: any, third?: unknown): unknown {
  if (typeof third === "function") {
    second.on("finish", () => state.outerSaw.push(first.headers["if-none-match"]));
    return (third as () => void)();
  }
  return (async () => {
    await second();
    state.outerSaw.push(first.headers["if-none-match"]);
  })();
}

@Service()
@Controller("/reval")
@UseBefore(outer)
class RevalidationController {
  @Get("/express")
  @CachePage({ timeout: 60, keyFunc: key })
  viaExpress(@Req() req: any, @Res() res: any) {
    const out = answer(req.headers["if-none-match"]);
    res.status(out.status);
    if (out.status === 304) res.statusMessage = "Not Modified"; // as a proxying action copies it
    for (const [name, value] of Object.entries(out.headers)) res.set(name, value);
    res.send(out.body ?? "");
    return res;
  }

  @Get("/koa")
  @CachePage({ timeout: 60, keyFunc: key })
  viaKoa(@Ctx() ctx: any) {
    const out = answer(ctx.headers["if-none-match"]);
    for (const [name, value] of Object.entries(out.headers)) ctx.set(name, value);
    ctx.body = out.body ?? null;
    ctx.status = out.status;
    return ctx;
  }

  /** Express answers 304 by itself in res.send when the request's If-None-Match matches its ETag. */
  @Get("/auto")
  @Header("Cache-Control", "max-age=1")
  @CachePage({ timeout: 60, keyFunc: key })
  auto() {
    state.calls += 1;
    return "the same page";
  }
}

for (const driver of ALL_DRIVERS) {
  describe(`revalidating a stale page with the action (${driver})`, function () {
    this.timeout(15_000);
    let app: TestApp;
    const path = driver === "koa" ? "/reval/koa" : "/reval/express";
    before(async () => {
      app = await startApp(driver, [RevalidationController]);
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      Object.assign(state, { version: 1, calls: 0, actionSaw: [], outerSaw: [] });
    });

    it("asks with the stored ETag once stale, and serves the stored page freshened by the action's 304", async () => {
      const miss = await app.http.get(path);
      expect(miss.text).to.equal("page v1");
      await sleep(1_100);
      const revalidated = await app.http.get(path);
      expect(state.actionSaw).to.deep.equal([undefined, '"v1"']);
      expect(revalidated.status).to.equal(200);
      expect((revalidated as unknown as { res: { statusMessage: string } }).res.statusMessage).to.equal("OK");
      expect(revalidated.text).to.equal("page v1");
      expect(revalidated.headers["content-length"]).to.equal(String(Buffer.byteLength("page v1")));
      expect(revalidated.headers["x-first"]).to.equal("1"); // kept from the stored response
      expect(revalidated.headers["x-answer"]).to.equal("2"); // updated by the 304
      expect(revalidated.headers["x-cache"]).to.equal("MISS");
      expect(revalidated.headers["cache-status"]).to.match(/custom-cache-page; fwd=stale; fwd-status=304/);
      await sleep(50);
      const hit = await app.http.get(path);
      expect(hit.headers["x-cache"]).to.equal("HIT");
      expect(hit.text).to.equal("page v1");
      expect(hit.headers["x-answer"]).to.equal("2");
      expect(state.calls).to.equal(2);
    });

    it("stores the action's new page when it answers 200", async () => {
      await app.http.get(path);
      state.version = 2;
      await sleep(1_100);
      const changed = await app.http.get(path);
      expect(changed.text).to.equal("page v2");
      expect(changed.headers["cache-status"]).to.match(/fwd=uri-miss/);
      await sleep(50);
      const hit = await app.http.get(path);
      expect(hit.headers["x-cache"]).to.equal("HIT");
      expect(hit.text).to.equal("page v2");
    });

    it("never lets the cache's validators reach the client's response or anything outside the action", async () => {
      await app.http.get(path);
      await sleep(1_100);
      await app.http.get(path);
      await sleep(50);
      expect(state.actionSaw).to.deep.equal([undefined, '"v1"']);
      expect(state.outerSaw).to.deep.equal([undefined, undefined]);
    });

    it("leaves a conditional or partial request as the client sent it", async () => {
      await app.http.get(path);
      await sleep(1_100);
      const own = await app.http.get(path).set("If-None-Match", '"v1"');
      expect(own.status).to.equal(304); // the client asked for it: the action's 304 goes to the client
      const partial = await app.http.get(path).set("Range", "bytes=0-1");
      expect(partial.text).to.equal("page v1"); // this action ignores Range; the 200 is stored again
      await sleep(1_100);
      const other = await app.http.get(path).set("If-None-Match", '"v0"');
      expect(other.status).to.equal(200);
      expect(state.actionSaw.slice(1)).to.deep.equal(['"v1"', undefined, '"v0"']);
    });

    it("does not revalidate HEAD requests", async () => {
      await app.http.get(path);
      await sleep(1_100);
      await app.http.head(path);
      expect(state.actionSaw).to.deep.equal([undefined, undefined]);
    });

    if (driver !== "koa") {
      it("revalidates through Express' own 304 in res.send when the page did not change", async () => {
        const miss = await app.http.get("/reval/auto");
        await sleep(1_100);
        const revalidated = await app.http.get("/reval/auto");
        expect(revalidated.status).to.equal(200);
        expect(revalidated.text).to.equal("the same page");
        expect(revalidated.headers.etag).to.equal(miss.headers.etag);
        expect(revalidated.headers["cache-status"]).to.match(/fwd=stale; fwd-status=304/);
        await sleep(50);
        expect((await app.http.get("/reval/auto")).headers["x-cache"]).to.equal("HIT");
        expect(state.calls).to.equal(2);
      });
    }
  });
}
