import { expect } from "chai";
import { createHash } from "node:crypto";
import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Controller, Get, Param } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, configureCachePage, generateCacheKey, invalidateTag, resetCachePageConfig, type CacheRequest } from "../../src";
import { CdnPurgeError } from "../../src/backends/cdn/purgeClient";
import { CdnTagHeaderFormatter, varnishTagHeader } from "../../src/backends/cdn/tagHeaderFormatter";
import { CompositeBackend } from "../../src/backends/composite";
import { VarnishBackend } from "../../src/backends/varnish";
import { getCacheBackend } from "../../src/config/configure";
import { DRIVERS, startApp, type TestApp } from "../support/apps";
import { startVarnishOrSkip, vclWithBackend, type VarnishInstance } from "../support/varnish";

/**
 * The application behind Varnish: `/page/<id>` answers `<id> #<n>` (n counts the requests that
 * reached it), tagged by VarnishBackend.prepareResponse with the `tag` query parameters, plus
 * `many=<n>` generated tags and a `long=<n>`-character tag when asked.
 */
const rawBackend = new VarnishBackend({
  urls: ["http://127.0.0.1:9/"],
  tagHeaderFormatter: new CdnTagHeaderFormatter({ ...varnishTagHeader(), maxTotalBytes: undefined, hashBuckets: undefined }),
});

function startOrigin(backend: () => VarnishBackend): Promise<{ server: Server; port: number; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://origin");
    const id = url.pathname;
    const n = (hits.get(id) ?? 0) + 1;
    hits.set(id, n);
    const tags = url.searchParams.getAll("tag");
    const prefix = url.searchParams.get("prefix") ?? "t";
    for (let i = 0; i < Number(url.searchParams.get("many") ?? 0); i += 1) tags.push(`${prefix}-many-${i}-${"m".repeat(60)}`);
    if (url.searchParams.has("long")) tags.push(`${prefix}-${"L".repeat(Number(url.searchParams.get("long")))}`);
    // `raw=1`: the tags as one unbounded split header, to show what varnishd does without the degradation.
    const preparer = url.searchParams.has("raw") ? rawBackend : backend();
    const prepared = preparer.prepareResponse(
      { status: 200, headers: { "content-type": "text/plain", "cache-control": url.searchParams.get("cc") ?? "max-age=60" }, body: Buffer.from(`${id} #${n}`) },
      tags,
    );
    res.writeHead(prepared.status, prepared.headers);
    res.end(prepared.body);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as AddressInfo).port, hits })));
}

describe("VarnishBackend against a real varnishd", function () {
  this.timeout(30_000);
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  let varnish: VarnishInstance | undefined;
  let backend: VarnishBackend;
  let seq = 0;
  let id: string;

  const through = async (path: string) => {
    const response = await fetch(`${varnish!.url}${path}`);
    return { status: response.status, body: await response.text(), cache: response.headers.get("x-varnish-cache") };
  };

  before(async function () {
    origin = await startOrigin(() => backend);
    varnish = await startVarnishOrSkip(this, { backendPort: origin.port });
    backend = new VarnishBackend({ urls: [`${varnish.url}/`], retryBaseDelayMs: 1, retryMaxDelayMs: 5, timeoutMs: 3000 });
  });
  after(async () => {
    await varnish?.stop();
    await new Promise((r) => origin?.server.close(r));
  });
  beforeEach(() => {
    seq += 1;
    id = `t${seq}`; // each test has its own pages and tags, so the shared Varnish cannot mix them up
  });

  it("serves a repeat from Varnish and, after invalidateBySurrogate, goes back to the app", async () => {
    const path = `/page/${id}?tag=${id}-products&tag=${id}-product-1`;
    expect(await through(path)).to.deep.equal({ status: 200, body: `/page/${id} #1`, cache: "MISS" });
    expect(await through(path)).to.deep.equal({ status: 200, body: `/page/${id} #1`, cache: "HIT" });
    expect(origin.hits.get(`/page/${id}`)).to.equal(1);

    expect(await backend.invalidateBySurrogate(`${id}-product-1`)).to.equal(1);

    expect(await through(path)).to.deep.equal({ status: 200, body: `/page/${id} #2`, cache: "MISS" });
    expect(origin.hits.get(`/page/${id}`)).to.equal(2);
    expect((await through(path)).cache).to.equal("HIT");
  });

  it("purges only the pages that carry the tag", async () => {
    const a = `/page/${id}-a?tag=${id}-a&tag=${id}-shared`;
    const b = `/page/${id}-b?tag=${id}-b&tag=${id}-shared`;
    await through(a);
    await through(b);
    expect(await backend.invalidateBySurrogate(`${id}-a`)).to.equal(1);
    expect((await through(a)).cache).to.equal("MISS");
    expect((await through(b)).cache).to.equal("HIT");
    expect(await backend.invalidateBySurrogate(`${id}-shared`)).to.equal(2);
    expect((await through(b)).cache).to.equal("MISS");
  });

  it("purges several tags in one request and returns the number of objects Varnish purged", async () => {
    const pages = [1, 2, 3].map((n) => `/page/${id}-${n}?tag=${id}-p${n}`);
    for (const page of pages) await through(page);
    expect(await backend.invalidateBySurrogates([`${id}-p1`, `${id}-p2`, `${id}-p3`, `${id}-p1`, `${id}-unknown`])).to.equal(3);
    for (const page of pages) expect((await through(page)).cache).to.equal("MISS");
  });

  it("finds a tag in any of several xkey header fields when the tags pass 8000 bytes", async () => {
    const path = `/page/${id}?prefix=${id}&many=200`;
    const fields = await new Promise<number>((resolve, reject) =>
      get(`http://127.0.0.1:${origin.port}${path}`, (res) => {
        res.resume();
        resolve(res.rawHeaders.filter((_, i) => i % 2 === 0 && res.rawHeaders[i].toLowerCase() === "xkey").length);
      }).on("error", reject),
    );
    expect(fields).to.be.greaterThan(1);
    await through(path);
    expect((await through(path)).cache).to.equal("HIT");
    expect(await backend.invalidateBySurrogate(`${id}-many-199-${"m".repeat(60)}`)).to.equal(1);
    expect((await through(path)).cache).to.equal("MISS");
  });

  it("purges a tag longer than 1024 bytes under the same hashed name the header carried", async () => {
    const path = `/page/${id}?prefix=${id}&long=3000`;
    await through(path);
    expect((await through(path)).cache).to.equal("HIT");
    const longTag = `${id}-${"L".repeat(3000)}`;
    expect(backend.tagHeader.normalizeKeys([longTag])[0]).to.equal(`${longTag.slice(0, 64)}-md5-${createHash("md5").update(longTag).digest("hex")}`);
    expect(await backend.invalidateBySurrogate(longTag)).to.equal(1);
    expect((await through(path)).cache).to.equal("MISS");
  });

  it("leaves responses the app marks private to the app", async () => {
    const path = `/page/${id}?tag=${id}&cc=private,max-age=60`;
    await through(path);
    await through(path);
    expect(origin.hits.get(`/page/${id}`)).to.equal(2);
  });

  it("soft-purges: Varnish serves the stale page once while it fetches a fresh one", async () => {
    const soft = new VarnishBackend({ urls: [`${varnish!.url}/`], softPurge: true });
    const path = `/page/${id}?tag=${id}`;
    await through(path);
    expect(await soft.invalidateBySurrogate(id)).to.equal(1);
    expect((await through(path)).body).to.equal(`/page/${id} #1`); // stale, within grace
    for (let i = 0; i < 100 && origin.hits.get(`/page/${id}`) !== 2; i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(origin.hits.get(`/page/${id}`)).to.equal(2);
    // The origin counts the refetch before Varnish has stored its answer: wait for the swap, bounded.
    let body = (await through(path)).body;
    for (let i = 0; i < 50 && body !== `/page/${id} #2`; i += 1) {
      await new Promise((r) => setTimeout(r, 20));
      body = (await through(path)).body;
    }
    expect(body).to.equal(`/page/${id} #2`);
    expect(origin.hits.get(`/page/${id}`)).to.equal(2); // served from the cache, not fetched again
  });

  it("purges the reachable instances and rejects with one error naming the unreachable one", async () => {
    const dead = "http://127.0.0.1:9/";
    const both = new VarnishBackend({ urls: [`${varnish!.url}/`, dead], maxRetries: 1, retryBaseDelayMs: 1, timeoutMs: 1000 });
    const path = `/page/${id}?tag=${id}`;
    await through(path);
    const error = (await both.invalidateBySurrogate(id).catch((e: unknown) => e)) as CdnPurgeError;
    expect(error).to.be.instanceOf(CdnPurgeError);
    expect(error.purged).to.equal(1);
    expect(error.failures.map((f) => f.url)).to.deep.equal([dead]);
    // The purge carries the tag and its hash bucket key (for pages whose tags went out as buckets).
    expect(error.message).to.match(
      /^Varnish purge failed for 2 of 2 key\(s\) \(1 of 2 request\(s\) failed; the others were purged\): \[t\d+, ccp-b-[0-9a-f]{3}\] at http:\/\/127\.0\.0\.1:9\/: Varnish could not be reached/,
    );
    expect((await through(path)).cache).to.equal("MISS");
  });

  it("counts the keys it sent when the VCL does not report a count", async () => {
    const uncounted = new VarnishBackend({ urls: [`${varnish!.url}/`], purgedCountHeader: "x-not-sent" });
    expect(await uncounted.invalidateBySurrogates([`${id}-a`, `${id}-b`])).to.equal(2);
  });

  it("turns a page with 3,000 tags into a 503 when the header is not bounded (what the degradation avoids)", async () => {
    const path = `/page/${id}?prefix=${id}&many=3000&raw=1`;
    expect((await through(path)).status).to.equal(503);
  });

  it("serves and caches a page with 3,000 tags (hash buckets, under varnishd's header limits) and still purges it by any one of its tags", async () => {
    const path = `/page/${id}?prefix=${id}&many=3000`;
    const fields = await new Promise<string[]>((resolve, reject) =>
      get(`http://127.0.0.1:${origin.port}${path}`, (res) => {
        res.resume();
        resolve(res.rawHeaders.filter((_, i) => i % 2 === 1 && res.rawHeaders[i - 1].toLowerCase() === "xkey"));
      }).on("error", reject),
    );
    const bytes = fields.reduce((n, f) => n + Buffer.byteLength(f), 0);
    expect(bytes).to.be.at.most(16000); // half of http_resp_size (32 KB)
    for (const field of fields) expect(Buffer.byteLength(field)).to.be.at.most(8000); // http_resp_hdr_len (8 KB)
    expect(
      fields
        .join(" ")
        .split(" ")
        .every((k) => /^ccp-b-[0-9a-f]{3}$/.test(k)),
    ).to.equal(true);

    expect(await through(path)).to.include({ status: 200, cache: "MISS" });
    expect(await through(path)).to.include({ status: 200, cache: "HIT" });
    for (const n of [0, 1234, 2999]) {
      expect(await backend.invalidateBySurrogate(`${id}-many-${n}-${"m".repeat(60)}`)).to.be.at.least(1);
      expect(await through(path)).to.include({ status: 200, cache: "MISS" });
      expect(await through(path)).to.include({ status: 200, cache: "HIT" });
    }
    await backend.invalidateBySurrogate(`${id}-many-0-${"m".repeat(60)}`); // leave no bucketed page for later purges to count
  });
});

const renders: Record<string, number> = {};

@Service()
@Controller("/rc")
class VarnishedController {
  @Get("/items/:id")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey, tags: ["rc-items", (req: CacheRequest) => `rc-item-${req.params.id}`] })
  item(@Param("id") id: string): string {
    renders[id] = (renders[id] ?? 0) + 1;
    return `item ${id} render #${renders[id]}`;
  }
}

for (const driver of DRIVERS) {
  describe(`@CachePage on ${driver} behind Varnish, with a composite of Keyv and Varnish`, function () {
    this.timeout(30_000);
    let app: TestApp;
    let varnish: VarnishInstance | undefined;
    const through = async (path: string) => {
      const response = await fetch(`${varnish!.url}${path}`);
      return { body: await response.text(), varnish: response.headers.get("x-varnish-cache"), app: response.headers.get("x-cache") };
    };

    before(async function () {
      app = await startApp(driver, [VarnishedController]);
      varnish = await startVarnishOrSkip(this, { backendPort: (app.server.address() as AddressInfo).port });
    });
    beforeEach(() => {
      for (const id of Object.keys(renders)) delete renders[id];
      configureCachePage({
        defaultBackend: "site",
        backends: {
          local: { backend: "keyv" },
          varnish: { backend: "varnish", options: { urls: [`${varnish!.url}/`], retryBaseDelayMs: 1, timeoutMs: 3000 } },
          site: { backend: "composite", options: { backends: ["local", "varnish"] } },
        },
      });
    });
    afterEach(() => resetCachePageConfig());
    after(async () => {
      await varnish?.stop();
      await app?.close();
    });

    it("is cached by Varnish and by the app, and one invalidateTag clears both", async () => {
      const id = `${driver}-1`;
      expect(await through(`/rc/items/${id}`)).to.deep.equal({ body: `item ${id} render #1`, varnish: "MISS", app: "MISS" });
      expect(await through(`/rc/items/${id}`)).to.include({ body: `item ${id} render #1`, varnish: "HIT" });
      expect(renders[id]).to.equal(1);

      // Past Varnish, the app answers from its own (Keyv) cache, with the xkey tags on the hit too
      // (with the Host Varnish forwarded: the host is part of generateCacheKey's key).
      const direct = await app.http.get(`/rc/items/${id}`).set("Host", new URL(varnish!.url).host);
      expect(direct.headers["x-cache"]).to.equal("HIT");
      expect(direct.headers.xkey).to.equal(`rc-items rc-item-${id}`);
      expect(renders[id]).to.equal(1);

      // Every backend is reached once: the local entry (1) plus the object Varnish purged (1).
      expect(await invalidateTag(`rc-item-${id}`)).to.equal(2);
      expect(await through(`/rc/items/${id}`)).to.deep.equal({ body: `item ${id} render #2`, varnish: "MISS", app: "MISS" });
      expect(renders[id]).to.equal(2);
    });

    it("leaves other pages cached in Varnish when one tag is invalidated", async () => {
      const [a, b] = [`${driver}-a`, `${driver}-b`];
      await through(`/rc/items/${a}`);
      await through(`/rc/items/${b}`);
      await invalidateTag(`rc-item-${a}`);
      expect((await through(`/rc/items/${a}`)).varnish).to.equal("MISS");
      expect((await through(`/rc/items/${b}`)).varnish).to.equal("HIT");
      expect((getCacheBackend() as CompositeBackend).backends[1]).to.be.instanceOf(VarnishBackend);
    });
  });
}

describe("VarnishBackend purge requests", () => {
  let server: Server;
  let url: string;
  const seen: Array<{ method?: string; headers: Record<string, unknown> }> = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method, headers: req.headers });
      if (req.url === "/refuse") return void res.writeHead(403).end("Forbidden");
      res.writeHead(200, { "xkey-purged": "0" }).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => new Promise((r) => server.close(r)));
  beforeEach(() => (seen.length = 0));

  it("sends PURGE with xkey-purge (or xkey-softpurge) to every URL, in batches under 7000 bytes", async () => {
    const keys = Array.from({ length: 120 }, (_, i) => `k${i}-${"x".repeat(100)}`);
    expect(await new VarnishBackend({ urls: [url, url.replace("127.0.0.1", "localhost")] }).invalidateBySurrogates(keys)).to.equal(0);
    expect(seen.every((r) => r.method === "PURGE")).to.equal(true);
    const sent = seen.map((r) => String(r.headers["xkey-purge"]));
    for (const value of sent) expect(Buffer.byteLength(value)).to.be.at.most(7000);
    const asked = sent.flatMap((v) => v.split(" ")).filter((k) => !/^ccp-b-[0-9a-f]{3}$/.test(k));
    expect(asked).to.have.length(240); // every key to both URLs (each with its hash bucket key beside it)
    await new VarnishBackend({ urls: [url], softPurge: true }).invalidateBySurrogate("a b");
    expect(String(seen.at(-1)!.headers["xkey-softpurge"])).to.match(/^a-b ccp-b-[0-9a-f]{3}$/);
    expect(seen.at(-1)!.headers).to.not.have.property("xkey-purge");
  });

  it("says to fix the ACL when the VCL refuses the purge", async () => {
    // The test server refuses /refuse as a real VCL refuses addresses outside its purgers ACL.
    const error = (await new VarnishBackend({ urls: [`${url}refuse`], maxRetries: 0 }).invalidateBySurrogate("a").catch((e: unknown) => e)) as CdnPurgeError;
    expect(error).to.be.instanceOf(CdnPurgeError);
    expect(error.message).to.include("HTTP 403").and.include('add its address to the "purgers" ACL');
    expect(error.failures[0].error.attempts).to.equal(1);
  });

  it("says which option is wrong when built with bad options", () => {
    expect(() => new VarnishBackend({ urls: [] })).to.throw(TypeError, /Invalid VarnishBackend options at urls: urls must name at least one Varnish instance/);
    expect(() => new VarnishBackend({ urls: ["127.0.0.1:6081"] })).to.throw(
      TypeError,
      /options at urls: each entry of urls must be an http:\/\/ or https:\/\/ URL.*\(urls\[0\] is "127\.0\.0\.1:6081"\)/,
    );
    expect(() => new VarnishBackend({ urls: [url], header: "x key" })).to.throw(TypeError, /options at header: header must be an HTTP header name/);
  });
});

describe("vclWithBackend", () => {
  it("points the example VCL's default backend at the test app", () => {
    const vcl = vclWithBackend(
      'backend default {\n  .host = "10.0.0.1";\n  .port = "3000";\n}\nbackend other { .host = "x"; .port = "1"; }',
      "127.0.0.1",
      41234,
    );
    expect(vcl).to.include('.host = "127.0.0.1";\n  .port = "41234";');
    expect(vcl).to.include('backend other { .host = "x"; .port = "1"; }');
    expect(() => vclWithBackend("vcl 4.1;", "127.0.0.1", 1)).to.throw(/no `backend default/);
  });
});
