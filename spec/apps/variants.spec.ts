import { expect } from "chai";
import { Get, Header, JsonController, QueryParam, Req } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, resetCachePageConfig } from "../../src";
import { ALL_DRIVERS } from "../support/apps";
import { CallCounter, nonce, startRealApp, type RealApp } from "../support/realApps";

// SPEC §8 "Variants": "A response with `Vary` (other than `*`) is stored per variant: the request's
// values of the named headers are part of the entry's identity, and a request with other values is
// a miss, never served another variant." and "Never stored: ... `Vary: *`".

const calls = new CallCounter();
const page = { timeout: 60, keyFunc: (r: { url: string }) => r.url };

function headerOf(req: any, name: string): string | null {
  const value = req.headers[name];
  return value === undefined ? null : String(value);
}

@Service()
@JsonController("/vary")
class VaryController {
  @Get("/language")
  @Header("Vary", "Accept-Language")
  @CachePage(page)
  language(@Req() req: any, @QueryParam("n") n: string) {
    return { n, seen: headerOf(req, "accept-language"), call: calls.hit(`language:${n}`) };
  }

  @Get("/cookie")
  @Header("Vary", "Cookie")
  @CachePage(page)
  cookie(@Req() req: any, @QueryParam("n") n: string) {
    return { n, seen: headerOf(req, "cookie"), call: calls.hit(`cookie:${n}`) };
  }

  @Get("/authorization")
  @Header("Vary", "Authorization")
  @CachePage({ ...page, cacheAuthorized: true })
  authorization(@Req() req: any, @QueryParam("n") n: string) {
    return { n, seen: headerOf(req, "authorization"), call: calls.hit(`authorization:${n}`) };
  }

  @Get("/accept")
  @Header("Vary", "Accept")
  @CachePage(page)
  accept(@Req() req: any, @QueryParam("n") n: string) {
    return { n, seen: headerOf(req, "accept"), call: calls.hit(`accept:${n}`) };
  }

  @Get("/origin")
  @Header("Vary", "Origin")
  @CachePage(page)
  origin(@Req() req: any, @QueryParam("n") n: string) {
    return { n, seen: headerOf(req, "origin"), call: calls.hit(`origin:${n}`) };
  }

  @Get("/two")
  @Header("Vary", "accept-language, X-Theme")
  @CachePage(page)
  two(@Req() req: any, @QueryParam("n") n: string) {
    return { n, seen: `${headerOf(req, "accept-language")}|${headerOf(req, "x-theme")}`, call: calls.hit(`two:${n}`) };
  }

  @Get("/star")
  @Header("Vary", "*")
  @CachePage(page)
  star(@QueryParam("n") n: string) {
    return { n, call: calls.hit(`star:${n}`) };
  }
}

const CASES: Array<{ route: string; header: string; values: [string, string] }> = [
  { route: "language", header: "Accept-Language", values: ["en", "fr-CH, fr;q=0.9"] },
  { route: "cookie", header: "Cookie", values: ["theme=dark", "theme=light"] },
  { route: "authorization", header: "Authorization", values: ["Bearer alice", "Bearer bob"] },
  { route: "accept", header: "Accept", values: ["application/json", "text/html"] },
  { route: "origin", header: "Origin", values: ["http://a.example", "http://b.example"] },
];

for (const driver of ALL_DRIVERS) {
  describe(`apps: Vary variants (${driver})`, () => {
    let app: RealApp;
    before(async () => {
      app = await startRealApp(driver, { controllers: [VaryController] });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls.reset();
    });

    for (const { route, header, values } of CASES) {
      const [first, second] = values;
      it(`Vary: ${header} — another value is a miss with its own page, the same value is a HIT of its own variant (SPEC §8 "Variants")`, async () => {
        const n = nonce();
        const path = `/vary/${route}?n=${n}`;
        const m1 = await app.http.get(path).set(header, first);
        expect(m1.body).to.deep.equal({ n, seen: first, call: 1 });
        expect(m1.headers["x-cache"]).to.equal("MISS");

        const m2 = await app.http.get(path).set(header, second);
        expect(m2.headers["x-cache"], `${header}: ${second} after a page for ${first}`).to.equal("MISS");
        expect(m2.body).to.deep.equal({ n, seen: second, call: 2 });

        const h1 = await app.http.get(path).set(header, first);
        expect(h1.headers["x-cache"]).to.equal("HIT");
        expect(h1.body).to.deep.equal({ n, seen: first, call: 1 });
        const h2 = await app.http.get(path).set(header, second);
        expect(h2.headers["x-cache"]).to.equal("HIT");
        expect(h2.body).to.deep.equal({ n, seen: second, call: 2 });
        expect(calls.of(`${route}:${n}`)).to.equal(2);
      });

      it(`Vary: ${header} — a request without the header is its own variant, never served the page of ${first}`, async () => {
        const n = nonce();
        const path = `/vary/${route}?n=${n}`;
        await app.http.get(path).set(header, first);
        const without = await app.http.get(path);
        expect(without.headers["x-cache"]).to.equal("MISS");
        expect(without.body).to.deep.equal({ n, seen: null, call: 2 });
        const withoutAgain = await app.http.get(path);
        expect(withoutAgain.headers["x-cache"]).to.equal("HIT");
        expect(withoutAgain.body.seen).to.equal(null);
        const firstAgain = await app.http.get(path).set(header, first);
        expect(firstAgain.body.seen).to.equal(first);
      });
    }

    it("Vary on two headers: a change in either one is another variant", async () => {
      const n = nonce();
      const path = `/vary/two?n=${n}`;
      const combos: Array<[string, string]> = [
        ["en", "dark"],
        ["en", "light"],
        ["de", "dark"],
      ];
      for (const [lang, theme] of combos) {
        const res = await app.http.get(path).set("Accept-Language", lang).set("X-Theme", theme);
        expect(res.headers["x-cache"], `${lang}|${theme}`).to.equal("MISS");
        expect(res.body.seen).to.equal(`${lang}|${theme}`);
      }
      for (const [lang, theme] of combos) {
        const res = await app.http.get(path).set("Accept-Language", lang).set("X-Theme", theme);
        expect(res.headers["x-cache"], `${lang}|${theme} again`).to.equal("HIT");
        expect(res.body.seen).to.equal(`${lang}|${theme}`);
      }
      expect(calls.of(`two:${n}`)).to.equal(3);
    });

    it("many variants of one key: every request still gets its own variant, never another (variants are bounded per key)", async () => {
      const n = nonce();
      const path = `/vary/language?n=${n}`;
      const languages = Array.from({ length: 40 }, (_, i) => `x-lang-${i}`);
      for (const round of [1, 2]) {
        for (const lang of languages) {
          const res = await app.http.get(path).set("Accept-Language", lang);
          expect(res.status).to.equal(200);
          expect(res.body.seen, `round ${round}, ${lang}`).to.equal(lang);
        }
      }
      const last = languages[languages.length - 1];
      await app.http.get(path).set("Accept-Language", last);
      expect((await app.http.get(path).set("Accept-Language", last)).headers["x-cache"]).to.equal("HIT");
    });

    it('Vary: * is never stored (SPEC §8 "Never stored: ... Vary: *")', async () => {
      const n = nonce();
      const path = `/vary/star?n=${n}`;
      await app.http.get(path);
      const again = await app.http.get(path);
      expect(again.headers["x-cache"]).to.not.equal("HIT");
      expect(again.body.call).to.equal(2);
      expect(calls.of(`star:${n}`)).to.equal(2);
    });
  });
}
