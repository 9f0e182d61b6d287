import { expect } from "chai";
import { Controller, Get, Post } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, CachePageOptionsError, Tags } from "../../src";
import { startApp } from "../support/apps";

describe("@CachePage start-up errors", () => {
  const define = (options: unknown) => () => {
    @Controller("/bad")
    class ProductController {
      @Get("/")
      @CachePage(options as never)
      list() {
        return "x";
      }
    }
    return ProductController;
  };

  it("refuses a timeout no header can say: a fraction, NaN, Infinity, more than a year", () => {
    for (const timeout of [0.5, Number.NaN, Number.POSITIVE_INFINITY, 1e13, 31_536_001]) {
      expect(define({ timeout, keyFunc: (r: any) => r.url }), String(timeout)).to.throw(
        CachePageOptionsError,
        /"timeout" must be a whole number of seconds up to 31536000/,
      );
    }
    expect(define({ timeout: 31_536_000, keyFunc: (r: any) => r.url })).not.to.throw();
  });

  it("refuses 206 in statuses: a partial response is never stored", () => {
    expect(define({ timeout: 60, keyFunc: (r: any) => r.url, statuses: [200, 206] })).to.throw(CachePageOptionsError, /"statuses" must not hold 206/);
  });

  it("names the missing timeout", () => {
    expect(define({ keyFunc: (r: any) => r.url })).to.throw(CachePageOptionsError, /@CachePage on ProductController\.list: "timeout" is required/);
  });

  it("names a timeout of the wrong type and what it got", () => {
    expect(define({ timeout: "1h", keyFunc: (r: any) => r.url })).to.throw(
      /@CachePage on ProductController\.list: "timeout" must be a whole number of seconds up to 31536000 \(one year\), or a function returning one \(got "1h"\)/,
    );
  });

  it("names the missing keyFunc", () => {
    expect(define({ timeout: 60 })).to.throw(/"keyFunc" is required/);
  });

  it("rejects unknown options (typos)", () => {
    expect(define({ timeout: 60, keyFunc: (r: any) => r.url, tag: ["x"] })).to.throw(/unknown option "tag"/);
  });

  it("rejects bad tags, statuses, prefix, backend and onlyIf", () => {
    const keyFunc = (r: any) => r.url;
    expect(define({ timeout: 60, keyFunc, tags: [42] })).to.throw(/"tags"\[0\] must be a string, versioned\(...\) or a function/);
    expect(define({ timeout: 60, keyFunc, statuses: [200, 99] })).to.throw(/"statuses" must be a non-empty array of HTTP status codes/);
    expect(define({ timeout: 60, keyFunc, prefix: 3 })).to.throw(/"prefix" must be a string or a function/);
    expect(define({ timeout: 60, keyFunc, backend: {} })).to.throw(/"backend" must be the name of a configured backend or a BaseCacheBackend instance/);
    expect(define({ timeout: 60, keyFunc, onlyIf: true })).to.throw(/"onlyIf" must be a function/);
    expect(define({ timeout: 60, keyFunc, cacheAuthorized: "yes" })).to.throw(/"cacheAuthorized" must be true or false/);
  });

  it("rejects @Tags with something that is not a tag", () => {
    expect(() => {
      class C {
        @Tags("ok", 5 as never)
        m() {}
      }
      return C;
    }).to.throw(/@Tags on C\.m\[1\] must be a string/);
  });

  it("fails when the server starts if the method is not an action", async () => {
    @Service()
    @Controller("/no-action")
    class ForgotGetController {
      @CachePage({ timeout: 60, keyFunc: (r) => r.url })
      list() {
        return "x";
      }
    }
    for (const driver of ["express", "koa"] as const) {
      let error: unknown;
      try {
        const app = await startApp(driver, [ForgotGetController]);
        await app.close();
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(CachePageOptionsError);
      expect((error as Error).message).to.match(/@CachePage on ForgotGetController\.list: the method is not a routing-controllers action; add @Get/);
    }
  });

  it("fails when the server starts if the action is not GET", async () => {
    @Service()
    @Controller("/post-action")
    class PostController {
      @Post("/")
      @CachePage({ timeout: 60, keyFunc: (r) => r.url })
      create() {
        return "x";
      }
    }
    let error: unknown;
    try {
      await (await startApp("express", [PostController])).close();
    } catch (e) {
      error = e;
    }
    expect((error as Error)?.message).to.match(/only GET and HEAD responses are cached, but the action is @POST/);
  });

  it("fails when the server starts if @Tags has no @CachePage", async () => {
    @Service()
    @Controller("/tags-only")
    class TagsOnlyController {
      @Get("/")
      @Tags("x")
      list() {
        return "x";
      }
    }
    let error: unknown;
    try {
      await (await startApp("koa", [TagsOnlyController])).close();
    } catch (e) {
      error = e;
    }
    expect((error as Error)?.message).to.match(/@Tags on TagsOnlyController\.list: add @CachePage/);
  });
});
