import { randomBytes } from "node:crypto";
import { expect } from "chai";
import helmet from "helmet";
import { Get, JsonController, QueryParam } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, resetCachePageConfig } from "../../src";
import { ALL_DRIVERS, type Driver } from "../support/apps";
import { CallCounter, headerLines, koaFromConnect, nonce, startRealApp, type RawResponse, type RealApp } from "../support/realApps";

// helmet mounted the way its README says (app.use(helmet())) before routing-controllers' routes;
// on Koa through the connect adapter koa-helmet is made of. The second setup gives every request
// its own CSP nonce, the README's "res.locals.cspNonce" recipe.
// SPEC §8: the store decision is made "after every middleware that adds or changes headers while
// they are sent (... helmet)"; DESIGN "How a request flows": headers that outer middleware set for
// this request (security headers) "are the request's, not the page's".

const calls = new CallCounter();

const HELMET_HEADERS = [
  "content-security-policy",
  "cross-origin-opener-policy",
  "cross-origin-resource-policy",
  "origin-agent-cluster",
  "referrer-policy",
  "strict-transport-security",
  "x-content-type-options",
  "x-dns-prefetch-control",
  "x-download-options",
  "x-frame-options",
  "x-permitted-cross-domain-policies",
  "x-xss-protection",
];

@Service()
@JsonController("/helmet")
class HelmetController {
  @Get("/page")
  @CachePage({ timeout: 60, keyFunc: (r) => r.url })
  page(@QueryParam("n") n: string) {
    return { n, call: calls.hit(`page:${n}`) };
  }
}

function mountHelmet(app: any, driver: Driver): void {
  const mw = helmet();
  app.use(driver === "koa" ? koaFromConnect(mw) : mw);
}

function mountHelmetWithNonce(app: any, driver: Driver): void {
  const setNonce = (_req: any, res: any, next: () => void) => {
    res.locals = res.locals ?? {};
    res.locals.cspNonce = randomBytes(16).toString("hex");
    next();
  };
  const mw = helmet({
    contentSecurityPolicy: {
      directives: { scriptSrc: ["'self'", (_req: any, res: any) => `'nonce-${res.locals.cspNonce}'`] },
    },
  });
  if (driver === "koa") {
    app.use(koaFromConnect(setNonce));
    app.use(koaFromConnect(mw));
  } else {
    app.use(setNonce);
    app.use(mw);
  }
}

/** Every helmet header exactly once, with the value of the reference response. */
function expectHelmetHeaders(res: RawResponse, reference: RawResponse | undefined, label: string): void {
  for (const name of HELMET_HEADERS) {
    const lines = headerLines(res, name);
    expect(lines, `${label}: ${name} lines`).to.have.length(1);
    if (reference) expect(lines[0], `${label}: ${name}`).to.equal(headerLines(reference, name)[0]);
  }
  expect(res.headers["x-powered-by"], `${label}: helmet removes X-Powered-By`).to.equal(undefined);
}

/** No header line of the response appears twice (Set-Cookie excepted). */
function expectNoDuplicates(res: RawResponse, label: string): void {
  const seen = new Map<string, number>();
  for (const [name] of res.rawHeaders) seen.set(name, (seen.get(name) ?? 0) + 1);
  const duplicated = [...seen].filter(([name, count]) => count > 1 && name !== "set-cookie").map(([name]) => name);
  expect(duplicated, `${label}: duplicated header lines`).to.deep.equal([]);
}

for (const driver of ALL_DRIVERS) {
  describe(`apps: helmet (${driver})`, () => {
    let app: RealApp;
    before(async () => {
      app = await startRealApp(driver, { controllers: [HelmetController], mount: mountHelmet });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls.reset();
    });

    it("sends helmet's security headers on the miss and on the hit, each exactly once and unchanged", async () => {
      const n = nonce();
      const path = `/helmet/page?n=${n}`;
      const miss = await app.raw(path);
      expect(miss.headers["x-cache"]).to.equal("MISS");
      expectHelmetHeaders(miss, undefined, "miss");
      const hit = await app.raw(path);
      expect(hit.headers["x-cache"]).to.equal("HIT");
      expectHelmetHeaders(hit, miss, "hit");
      expect(JSON.parse(hit.body.toString())).to.deep.equal({ n, call: 1 });
      expect(calls.of(`page:${n}`)).to.equal(1);
    });

    it("a hit duplicates no header line, and repeats stay the same", async () => {
      const n = nonce();
      const path = `/helmet/page?n=${n}`;
      const miss = await app.raw(path);
      expectNoDuplicates(miss, "miss");
      for (let i = 0; i < 3; i++) {
        const hit = await app.raw(path);
        expect(hit.headers["x-cache"]).to.equal("HIT");
        expectNoDuplicates(hit, `hit ${i + 1}`);
        expectHelmetHeaders(hit, miss, `hit ${i + 1}`);
      }
    });
  });

  describe(`apps: helmet with a per-request CSP nonce (${driver})`, () => {
    let app: RealApp;
    before(async () => {
      app = await startRealApp(driver, { controllers: [HelmetController], mount: mountHelmetWithNonce });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls.reset();
    });

    it("a hit carries this request's Content-Security-Policy, once, not the one stored with the page", async () => {
      const n = nonce();
      const path = `/helmet/page?n=${n}`;
      const miss = await app.raw(path);
      const hit = await app.raw(path);
      expect(hit.headers["x-cache"]).to.equal("HIT");
      const missCsp = headerLines(miss, "content-security-policy");
      const hitCsp = headerLines(hit, "content-security-policy");
      expect(missCsp).to.have.length(1);
      expect(hitCsp).to.have.length(1);
      expect(hitCsp[0]).to.match(/'nonce-[0-9a-f]{32}'/);
      expect(hitCsp[0], "each request has its own nonce").to.not.equal(missCsp[0]);
      expectNoDuplicates(hit, "hit");
    });
  });
}
