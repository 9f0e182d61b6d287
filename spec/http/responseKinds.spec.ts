import { expect } from "chai";
import { Readable } from "node:stream";
import {
  Authorized,
  ContentType,
  Controller,
  Ctx,
  Get,
  Header,
  Location,
  OnNull,
  OnUndefined,
  Redirect,
  Render,
  Res,
  UseInterceptor,
  Interceptor,
  JsonController,
  type Action,
  type InterceptorInterface,
} from "routing-controllers";
import { Service } from "typedi";
import { CachePage, resetCachePageConfig } from "../../src";
import { ALL_DRIVERS, startApp, tokenAuth, type TestApp } from "../support/apps";

const calls: Record<string, number> = {};
const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
const key = (r: { path: string }) => r.path;
const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const utf8Text = "café ☕ 𝄞 ünïcödé — 終わり";
/** Multi-byte text, and bytes that are UTF-8 but for one cut-off sequence at the end. */
const utf8Cut = Buffer.concat([Buffer.from(utf8Text, "utf8"), Buffer.from([0xe2, 0x98])]);
const wrap = (_action: Action, content: unknown) => ({ wrapped: content });

@Service()
@Controller("/kinds")
class KindsController {
  @Get("/redirect")
  @Redirect("/kinds/target")
  @CachePage({ timeout: 60, keyFunc: key, statuses: [302] })
  redirect() {
    count("redirect");
  }

  @Get("/location")
  @Location("/kinds/elsewhere")
  @CachePage({ timeout: 60, keyFunc: key })
  location() {
    count("location");
    return "see elsewhere";
  }

  @Get("/render")
  @Render("page")
  @CachePage({ timeout: 60, keyFunc: key })
  render() {
    return { title: "Hello", call: count("render") };
  }

  @Get("/null")
  @OnNull(404)
  @CachePage({ timeout: 60, keyFunc: key, statuses: [404] })
  nothing() {
    count("null");
    return null;
  }

  @Get("/undefined")
  @OnUndefined(204)
  @CachePage({ timeout: 60, keyFunc: key, statuses: [204] })
  undef() {
    count("undefined");
    return undefined;
  }

  @Get("/binary")
  @ContentType("application/octet-stream")
  @CachePage({ timeout: 60, keyFunc: key })
  binary() {
    count("binary");
    return binary;
  }

  @Get("/latin1")
  @ContentType("text/plain; charset=latin1")
  @CachePage({ timeout: 60, keyFunc: key })
  latin1() {
    count("latin1");
    return Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff, 0xfe, 0x00]);
  }

  @Get("/utf8")
  @ContentType("text/plain; charset=utf-8")
  @CachePage({ timeout: 60, keyFunc: key })
  utf8() {
    count("utf8");
    return utf8Cut;
  }

  @Get("/utf8-exact")
  @ContentType("text/plain; charset=utf-8")
  @CachePage({ timeout: 60, keyFunc: key })
  utf8Exact() {
    count("utf8-exact");
    return utf8Text;
  }

  @Get("/res")
  @CachePage({ timeout: 60, keyFunc: key })
  viaRes(@Res() res: any) {
    count("res");
    res.status(200);
    res.set("X-From-Res", "1");
    res.type("text/plain");
    res.send("raw body");
    return res;
  }

  @Get("/ctx")
  @CachePage({ timeout: 60, keyFunc: key })
  viaCtx(@Ctx() ctx: any) {
    count("ctx");
    ctx.set("X-From-Ctx", "1");
    ctx.type = "text/plain";
    ctx.body = "ctx body";
    return ctx;
  }

  @Get("/stream")
  @ContentType("text/plain")
  @CachePage({ timeout: 60, keyFunc: key })
  stream() {
    count("stream");
    return Readable.from(["a", "b", "c"]);
  }

  @Get("/odd-headers")
  @Header("X-Long", "v".repeat(8000))
  @Header("X-Odd", 'a, "b", c=d; e')
  @Header("Keep-Alive", "timeout=5")
  @Header("Proxy-Connection", "keep-alive")
  @CachePage({ timeout: 60, keyFunc: key })
  oddHeaders() {
    count("oddHeaders");
    return "odd";
  }

  @Get("/malformed-cc")
  @Header("Cache-Control", 'max-age=abc, ,, "=", public')
  @CachePage({ timeout: 60, keyFunc: key })
  malformed() {
    count("malformed");
    return "m";
  }

  @Get("/intercepted")
  @UseInterceptor(wrap)
  @CachePage({ timeout: 60, keyFunc: key })
  intercepted() {
    return { call: count("intercepted") };
  }

  @Get("/intercepted-guarded")
  @Authorized()
  @UseInterceptor(wrap)
  @CachePage({ timeout: 60, keyFunc: key, cacheAuthorized: true })
  interceptedGuarded() {
    return { call: count("interceptedGuarded") };
  }
}

/** A global interceptor (given in the app's `interceptors`) that stamps every result. */
@Interceptor()
@Service()
class StampInterceptor implements InterceptorInterface {
  intercept(_action: Action, content: unknown) {
    return { stamped: content };
  }
}

@Service()
@JsonController("/global-intercepted")
class GloballyInterceptedController {
  @Get("/open")
  @CachePage({ timeout: 60, keyFunc: key })
  open() {
    return { call: count("globalOpen") };
  }

  @Get("/guarded")
  @Authorized()
  @CachePage({ timeout: 60, keyFunc: key, cacheAuthorized: true })
  guarded() {
    return { call: count("globalGuarded") };
  }
}

for (const driver of ALL_DRIVERS) {
  describe(`global interceptors on cached actions (${driver})`, () => {
    let app: TestApp;
    before(async () => {
      app = await startApp(driver, [GloballyInterceptedController], { ...tokenAuth, interceptors: [StampInterceptor] });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      for (const k of Object.keys(calls)) delete calls[k];
    });

    for (const [path, name, auth] of [
      ["/global-intercepted/open", "globalOpen", false],
      ["/global-intercepted/guarded", "globalGuarded", true],
    ] as const) {
      it(`replays the intercepted miss on a hit of ${path}`, async () => {
        const get = () => (auth ? app.http.get(path).set("Authorization", "Bearer good") : app.http.get(path));
        const miss = await get();
        const hit = await get();
        expect(miss.body).to.deep.equal({ stamped: { call: 1 } });
        expect(hit.headers["x-cache"]).to.equal("HIT");
        expect(hit.text).to.equal(miss.text);
        expect(calls[name]).to.equal(1);
      });
    }
  });

  describe(`captured and replayed responses (${driver})`, () => {
    let app: TestApp;
    before(async () => {
      app = await startApp(driver, [KindsController], tokenAuth);
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      for (const k of Object.keys(calls)) delete calls[k];
    });

    async function missThenHit(path: string, name: string, setup?: (t: any) => any) {
      const miss = await (setup ? setup(app.http.get(path)) : app.http.get(path)).buffer(true);
      const hit = await (setup ? setup(app.http.get(path)) : app.http.get(path)).buffer(true);
      expect(miss.headers["x-cache"], "miss").to.equal("MISS");
      expect(hit.headers["x-cache"], "hit").to.equal("HIT");
      expect(hit.status).to.equal(miss.status);
      expect(calls[name]).to.equal(1);
      return { miss, hit };
    }

    it("replays @Redirect: status and Location", async () => {
      const { hit } = await missThenHit("/kinds/redirect", "redirect", (t) => t.redirects(0));
      expect(hit.status).to.equal(302);
      expect(hit.headers.location).to.equal("/kinds/target");
    });

    it("replays @Location", async () => {
      const { hit } = await missThenHit("/kinds/location", "location");
      expect(hit.headers.location).to.equal("/kinds/elsewhere");
      expect(hit.text).to.equal("see elsewhere");
    });

    it("replays @Render output from the template engine", async () => {
      const { miss, hit } = await missThenHit("/kinds/render", "render");
      expect(hit.text).to.equal(miss.text);
      expect(hit.text).to.contain("<h1>Hello</h1><p>call 1</p>");
      expect(hit.headers["content-type"]).to.match(/text\/html/);
    });

    it("replays @OnNull and @OnUndefined statuses", async () => {
      expect((await missThenHit("/kinds/null", "null")).hit.status).to.equal(404);
      const { hit } = await missThenHit("/kinds/undefined", "undefined");
      expect(hit.status).to.equal(204);
    });

    it("replays Buffers and non-UTF-8 bodies byte for byte", async () => {
      const { hit } = await missThenHit("/kinds/binary", "binary", (t) => t.parse(rawParser));
      expect(Buffer.compare(hit.body, binary)).to.equal(0);
      expect(hit.headers["content-length"]).to.equal("256");
      const latin = await missThenHit("/kinds/latin1", "latin1", (t) => t.parse(rawParser));
      expect([...latin.hit.body]).to.deep.equal([0x63, 0x61, 0x66, 0xe9, 0xff, 0xfe, 0x00]);
      expect(latin.hit.headers["content-type"]).to.equal("text/plain; charset=latin1");
    });

    it("replays multi-byte UTF-8 text, and bytes that only look like it, byte for byte", async () => {
      const exact = await missThenHit("/kinds/utf8-exact", "utf8-exact", (t) => t.parse(rawParser));
      expect(Buffer.compare(exact.hit.body, Buffer.from(utf8Text, "utf8"))).to.equal(0);
      expect(exact.hit.headers["content-length"]).to.equal(String(Buffer.byteLength(utf8Text)));
      const cut = await missThenHit("/kinds/utf8", "utf8", (t) => t.parse(rawParser));
      expect(Buffer.compare(cut.hit.body, utf8Cut)).to.equal(0);
    });

    it("captures a response written through @Res() / @Ctx()", async () => {
      if (driver === "koa") {
        const { hit } = await missThenHit("/kinds/ctx", "ctx");
        expect(hit.text).to.equal("ctx body");
        expect(hit.headers["x-from-ctx"]).to.equal("1");
      } else {
        const { hit } = await missThenHit("/kinds/res", "res");
        expect(hit.text).to.equal("raw body");
        expect(hit.headers["x-from-res"]).to.equal("1");
      }
    });

    it("passes a stream of unknown length through without storing it", async () => {
      const first = await app.http.get("/kinds/stream");
      expect(first.text).to.equal("abc");
      expect(first.headers["x-cache"]).to.equal("BYPASS");
      const second = await app.http.get("/kinds/stream");
      expect(second.text).to.equal("abc");
      expect(calls.stream).to.equal(2);
    });

    it("keeps long and odd header values, drops hop-by-hop ones, and sends a correct Content-Length", async () => {
      const { hit } = await missThenHit("/kinds/odd-headers", "oddHeaders");
      expect(hit.headers["x-long"]).to.have.length(8000);
      expect(hit.headers["x-odd"]).to.equal('a, "b", c=d; e');
      expect(hit.headers["keep-alive"]).to.equal(undefined);
      expect(hit.headers["proxy-connection"]).to.equal(undefined);
      expect(hit.headers["content-length"]).to.equal("3");
    });

    it("passes a malformed Cache-Control through untouched and, its max-age unreadable, never stores it (RFC 9111 §4.2.1)", async () => {
      const first = await app.http.get("/kinds/malformed-cc");
      const second = await app.http.get("/kinds/malformed-cc");
      expect([first.text, second.text]).to.deep.equal(["m", "m"]);
      expect(second.headers["cache-control"]).to.equal('max-age=abc, ,, "=", public');
      expect(second.headers["x-cache"]).to.equal("BYPASS");
      expect(second.headers["cache-status"]).to.match(/fwd=bypass; detail="the response is stale already/);
      expect(calls.malformed).to.equal(2);
    });

    it("replays what an interceptor produced on the miss", async () => {
      const { miss, hit } = await missThenHit("/kinds/intercepted", "intercepted");
      expect(miss.body).to.deep.equal({ wrapped: { call: 1 } });
      expect(hit.text).to.equal(miss.text);
    });

    it("replays an intercepted guarded action without 'headers already sent', and the guard still runs", async () => {
      const auth = (t: any) => t.set("Authorization", "Bearer good");
      const { miss, hit } = await missThenHit("/kinds/intercepted-guarded", "interceptedGuarded", auth);
      expect(miss.body).to.deep.equal({ wrapped: { call: 1 } });
      expect(hit.text).to.equal(miss.text);
      expect((await app.http.get("/kinds/intercepted-guarded")).status).to.equal(401);
      const again = await auth(app.http.get("/kinds/intercepted-guarded"));
      expect(again.text).to.equal(miss.text);
    });
  });
}

function rawParser(res: any, callback: (err: Error | null, body: Buffer) => void) {
  const chunks: Buffer[] = [];
  res.on("data", (c: Buffer) => chunks.push(c));
  res.on("end", () => callback(null, Buffer.concat(chunks)));
}
