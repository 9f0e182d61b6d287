import zlib from "node:zlib";
import { expect } from "chai";
import compression from "compression";
import cors from "cors";
import expressSession from "express-session";
import helmet from "helmet";
import koaCompress from "koa-compress";
import koaSession from "koa-session";
import { ContentType, Get, JsonController, QueryParam } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, resetCachePageConfig } from "../../src";
import { ALL_DRIVERS, type Driver } from "../support/apps";
import { acceptedCodings, CallCounter, decodeBody, koaFromConnect, nonce, rawRequest, setCookiePairs, startRealApp, type RealApp } from "../support/realApps";

// The middleware people always add, all at once, in the order their READMEs suggest (helmet, cors,
// compression, session), before routing-controllers' routes. Issue 9: "No session cookie, CORS
// header or encoding of one client ever reaches another; every hit decodes in an encoding the
// client accepts."

const calls = new CallCounter();
const A = "http://a.example";
const B = "http://b.example";

function bigText(n: string): string {
  return Array.from({ length: 300 }, (_, i) => `row ${i} of ${n}: lorem ipsum dolor sit amet`).join("\n");
}

@Service()
@JsonController("/stack")
class StackController {
  @Get("/page")
  @ContentType("text/plain; charset=utf-8")
  @CachePage({ timeout: 60, keyFunc: (r) => r.url })
  page(@QueryParam("n") n: string) {
    calls.hit(`page:${n}`);
    return bigText(n);
  }
}

function mountAll(app: any, driver: Driver): void {
  if (driver === "koa") {
    app.keys = ["some secret hurr"];
    app.use(koaFromConnect(helmet()));
    app.use(koaFromConnect(cors({ origin: [A, B] })));
    app.use(koaCompress({ threshold: 2048, gzip: { flush: zlib.constants.Z_SYNC_FLUSH }, deflate: { flush: zlib.constants.Z_SYNC_FLUSH } }));
    app.use(koaSession({}, app));
    // The session is used by every request of this app (a visit counter), like a real one.
    app.use(async (ctx: any, next: () => Promise<unknown>) => {
      if (ctx.query.visit) ctx.session.visits = (ctx.session.visits ?? 0) + 1;
      await next();
    });
  } else {
    app.use(helmet());
    app.use(cors({ origin: [A, B] }));
    app.use(compression());
    app.use(expressSession({ secret: "keyboard cat", resave: false, saveUninitialized: true }));
    app.use((req: any, _res: unknown, next: () => void) => {
      if (req.query.visit) req.session.visits = (req.session.visits ?? 0) + 1;
      next();
    });
  }
}

interface Client {
  label: string;
  headers: Record<string, string>;
}

for (const driver of ALL_DRIVERS) {
  describe(`apps: helmet + cors + compression + session together (${driver})`, () => {
    let app: RealApp;
    before(async () => {
      app = await startRealApp(driver, { controllers: [StackController], mount: mountAll });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls.reset();
    });

    it("no client ever gets another client's cookie, CORS header or an encoding it did not accept", async () => {
      const n = nonce();
      const clients: Client[] = [
        { label: "A gzip a.example", headers: { "Accept-Encoding": "gzip", Origin: A } },
        { label: "B identity b.example", headers: { "Accept-Encoding": "identity", Origin: B } },
        { label: "C deflate no origin", headers: { "Accept-Encoding": "deflate" } },
        { label: "D br a.example", headers: { "Accept-Encoding": "br", Origin: A } },
      ];
      const cookiesSeen = new Map<string, string>(); // cookie pair -> client that got it first
      for (const round of [1, 2, 3]) {
        for (const client of clients) {
          const query = round === 2 ? "&visit=1" : "";
          const res = await rawRequest(app.port, `/stack/page?n=${n}${query}`, client.headers);
          const label = `${client.label}, round ${round}`;
          expect(res.status, label).to.equal(200);
          const coding = String(res.headers["content-encoding"] ?? "identity");
          expect(acceptedCodings(client.headers["Accept-Encoding"])(coding), `${label}: ${coding}`).to.equal(true);
          expect(decodeBody(res).toString("utf8"), label).to.equal(bigText(n));
          const acao = res.headers["access-control-allow-origin"];
          expect(acao, `${label}: ACAO`).to.equal(client.headers.Origin);
          for (const pair of setCookiePairs(res.headers["set-cookie"])) {
            const owner = cookiesSeen.get(pair);
            expect(owner ?? client.label, `${label}: cookie ${pair.slice(0, 40)}`).to.equal(client.label);
            cookiesSeen.set(pair, client.label);
          }
          expect(res.headers["x-content-type-options"], `${label}: helmet`).to.equal("nosniff");
        }
      }
    });

    it("a returning visitor's page that left without Set-Cookie is a HIT for them, in their encoding", async () => {
      const n = nonce();
      const visitor = app.agent();
      await visitor.get(`/stack/page?n=${n}`).set("Origin", A);
      await visitor.get(`/stack/page?n=${n}`).set("Origin", A);
      const third = await visitor.get(`/stack/page?n=${n}`).set("Origin", A);
      expect(third.headers["x-cache"]).to.equal("HIT");
      expect(third.text).to.equal(bigText(n));
      expect(third.headers["access-control-allow-origin"]).to.equal(A);
      expect(calls.of(`page:${n}`)).to.be.within(1, 2);
    });
  });
}
