import zlib from "node:zlib";
import { expect } from "chai";
import compression from "compression";
import koaCompress from "koa-compress";
import { ContentType, Ctx, Get, JsonController, QueryParam, Req, Res } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, resetCachePageConfig } from "../../src";
import { ALL_DRIVERS, type Driver } from "../support/apps";
import { acceptedCodings, CallCounter, decodeBody, nonce, startRealApp, type RawResponse, type RealApp } from "../support/realApps";

// compression / koa-compress mounted the way their READMEs say, before routing-controllers' routes.
// SPEC §8 "Encodings": "A hit's body always decodes in an encoding the client accepts: a response
// compressed by middleware is either stored as identity and compressed again on the way out, or
// stored encoded and served only to clients that accept that encoding."

const calls = new CallCounter();

/** Deterministic, compressible and well above both middlewares' thresholds (1 KB / 2 KB). */
function pageText(n: string): string {
  const lines: string[] = [];
  for (let i = 0; i < 400; i++) lines.push(`line ${i} of page ${n}: the quick brown fox jumps over the lazy dog`);
  return lines.join("\n");
}

@Service()
@JsonController("/zip")
class CompressedController {
  @Get("/text")
  @ContentType("text/plain; charset=utf-8")
  @CachePage({ timeout: 60, keyFunc: (r) => r.url })
  text(@QueryParam("n") n: string) {
    calls.hit(`text:${n}`);
    return pageText(n);
  }

  @Get("/json")
  @CachePage({ timeout: 60, keyFunc: (r) => r.url })
  json(@QueryParam("n") n: string) {
    calls.hit(`json:${n}`);
    return { n, text: pageText(n) };
  }
}

/** A page that may be stored for one second and that the action confirms with a 304 afterwards. */
const REVALIDATED_ETAG = '"zip-1"';
const revalidatedPage = () => pageText("revalidated");

@Service()
@JsonController("/zip-reval")
class RevalidatedController {
  @Get("/express")
  @CachePage({ timeout: 60, keyFunc: (r) => r.url })
  viaExpress(@Req() req: any, @Res() res: any) {
    calls.hit(`reval:${req.headers["if-none-match"] ?? "-"}`);
    res.set("ETag", REVALIDATED_ETAG).set("Cache-Control", "max-age=1");
    if (req.headers["if-none-match"] === REVALIDATED_ETAG) res.status(304).end();
    else res.type("text/plain").send(revalidatedPage());
    return res;
  }

  @Get("/koa")
  @CachePage({ timeout: 60, keyFunc: (r) => r.url })
  viaKoa(@Ctx() ctx: any) {
    calls.hit(`reval:${ctx.headers["if-none-match"] ?? "-"}`);
    ctx.set("ETag", REVALIDATED_ETAG);
    ctx.set("Cache-Control", "max-age=1");
    if (ctx.headers["if-none-match"] === REVALIDATED_ETAG) {
      ctx.body = null;
      ctx.status = 304;
    } else {
      ctx.type = "text/plain";
      ctx.body = revalidatedPage();
    }
    return ctx;
  }
}

function mountCompression(app: any, driver: Driver): void {
  if (driver === "koa") {
    app.use(
      koaCompress({
        threshold: 2048,
        gzip: { flush: zlib.constants.Z_SYNC_FLUSH },
        deflate: { flush: zlib.constants.Z_SYNC_FLUSH },
      }),
    );
  } else {
    app.use(compression());
  }
}

/** The response decodes, in a coding the client accepted, to exactly `expected`; Content-Length (if any) counts the bytes sent. */
function expectDecodes(res: RawResponse, acceptEncoding: string | undefined, expected: string, label: string): void {
  expect(res.status, label).to.equal(200);
  const accepts = acceptedCodings(acceptEncoding);
  const codings = String(res.headers["content-encoding"] ?? "identity")
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  for (const coding of codings)
    expect(accepts(coding), `${label}: Content-Encoding ${coding} for Accept-Encoding ${acceptEncoding ?? "(none)"}`).to.equal(true);
  if (res.headers["content-length"] !== undefined) expect(Number(res.headers["content-length"]), `${label}: Content-Length`).to.equal(res.body.length);
  let decoded: Buffer;
  try {
    decoded = decodeBody(res);
  } catch (e) {
    throw new Error(`${label}: body does not decode as ${res.headers["content-encoding"] ?? "identity"} (${(e as Error).message})`);
  }
  expect(decoded.toString("utf8"), `${label}: decoded body`).to.equal(expected);
}

const CLIENTS: Array<[string, string | undefined]> = [
  ["identity", "identity"],
  ["no Accept-Encoding", undefined],
  ["deflate", "deflate"],
  ["br", "br"],
  ["gzip;q=0, deflate", "gzip;q=0, deflate"],
  ["gzip again", "gzip"],
  ["gzip, deflate, br", "gzip, deflate, br"],
];

for (const driver of ALL_DRIVERS) {
  describe(`apps: ${driver === "koa" ? "koa-compress" : "compression"} (${driver})`, () => {
    let app: RealApp;
    before(async () => {
      app = await startRealApp(driver, { controllers: [CompressedController, RevalidatedController], mount: mountCompression });
    });
    after(() => app.close());
    beforeEach(async () => {
      await resetCachePageConfig();
      calls.reset();
    });

    for (const kind of ["text", "json"] as const) {
      const expectedOf = (n: string) => (kind === "text" ? pageText(n) : JSON.stringify({ n, text: pageText(n) }));

      it(`a gzip client's miss is gzip and decodes; a second gzip client is a HIT that decodes to the same bytes (${kind})`, async () => {
        const n = nonce();
        const path = `/zip/${kind}?n=${n}`;
        const miss = await app.raw(path, { "Accept-Encoding": "gzip" });
        expectDecodes(miss, "gzip", expectedOf(n), "gzip miss");
        expect(miss.headers["content-encoding"], "the middleware compresses the miss").to.equal("gzip");
        expect(miss.headers["x-cache"]).to.equal("MISS");

        const hit = await app.raw(path, { "Accept-Encoding": "gzip" });
        expectDecodes(hit, "gzip", expectedOf(n), "gzip hit");
        expect(hit.headers["x-cache"]).to.equal("HIT");
        expect(calls.of(`${kind}:${n}`)).to.equal(1);
      });

      it(`every later client gets bytes that decode in an encoding it accepts (SPEC §8 "Encodings") (${kind})`, async () => {
        const n = nonce();
        const path = `/zip/${kind}?n=${n}`;
        expectDecodes(await app.raw(path, { "Accept-Encoding": "gzip" }), "gzip", expectedOf(n), "first gzip miss");
        // Each client twice: its first request may be a miss (another variant), its second one is served from what is stored.
        for (const [label, accept] of CLIENTS) {
          for (const round of [1, 2]) {
            const headers: Record<string, string> = accept === undefined ? {} : { "Accept-Encoding": accept };
            expectDecodes(await app.raw(path, headers), accept, expectedOf(n), `${label} #${round}`);
          }
        }
      });

      it(`an identity client after a gzip miss never gets gzip bytes or gzip headers (${kind})`, async () => {
        const n = nonce();
        const path = `/zip/${kind}?n=${n}`;
        await app.raw(path, { "Accept-Encoding": "gzip" });
        await app.raw(path, { "Accept-Encoding": "gzip" });
        const plain = await app.raw(path, { "Accept-Encoding": "identity" });
        expect(plain.headers["content-encoding"] ?? "identity").to.equal("identity");
        expect(plain.body.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b])), "gzip magic bytes").to.equal(false);
        expect(plain.body.toString("utf8")).to.equal(expectedOf(n));
        expect(calls.of(`${kind}:${n}`)).to.be.within(1, 2);
      });

      it(`an identity miss followed by gzip clients: each decodes, and the repeat is a HIT (${kind})`, async () => {
        const n = nonce();
        const path = `/zip/${kind}?n=${n}`;
        const first = await app.raw(path, { "Accept-Encoding": "identity" });
        expectDecodes(first, "identity", expectedOf(n), "identity miss");
        const gz1 = await app.raw(path, { "Accept-Encoding": "gzip" });
        expectDecodes(gz1, "gzip", expectedOf(n), "gzip after identity");
        const gz2 = await app.raw(path, { "Accept-Encoding": "gzip" });
        expectDecodes(gz2, "gzip", expectedOf(n), "gzip repeat");
        expect(gz2.headers["x-cache"]).to.equal("HIT");
        const id2 = await app.raw(path, { "Accept-Encoding": "identity" });
        expectDecodes(id2, "identity", expectedOf(n), "identity repeat");
        expect(id2.headers["x-cache"]).to.equal("HIT");
        expect(calls.of(`${kind}:${n}`)).to.be.within(1, 2);
      });

      it(`HEAD after a gzip miss answers with no body and headers of an encoding the client accepts (${kind})`, async () => {
        const n = nonce();
        const path = `/zip/${kind}?n=${n}`;
        await app.raw(path, { "Accept-Encoding": "gzip" });
        await app.raw(path, { "Accept-Encoding": "gzip" });
        const head = await app.raw(path, { "Accept-Encoding": "identity" }, "HEAD");
        expect(head.status).to.equal(200);
        expect(head.body.length).to.equal(0);
        expect(head.headers["content-encoding"] ?? "identity").to.equal("identity");
      });
    }

    it("a page the action confirms with a 304 goes out compressed again, and decodes for every client", async () => {
      const path = `/zip-reval/${driver === "koa" ? "koa" : "express"}?n=${nonce()}`;
      expectDecodes(await app.raw(path, { "Accept-Encoding": "gzip" }), "gzip", revalidatedPage(), "gzip miss");
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const revalidated = await app.raw(path, { "Accept-Encoding": "gzip" });
      expectDecodes(revalidated, "gzip", revalidatedPage(), "gzip, revalidated");
      expect(revalidated.headers["content-encoding"]).to.equal("gzip");
      expect(String(revalidated.headers["cache-status"])).to.match(/fwd=stale; fwd-status=304/);
      expect(calls.of(`reval:${REVALIDATED_ETAG}`), "the action was asked with the stored ETag").to.equal(1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (const [label, accept] of CLIENTS) {
        const headers: Record<string, string> = accept === undefined ? {} : { "Accept-Encoding": accept };
        expectDecodes(await app.raw(path, headers), accept, revalidatedPage(), `${label} after the revalidation`);
      }
      expect(calls.of("reval:-")).to.equal(1);
    });
  });
}
