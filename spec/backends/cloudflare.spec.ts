import { expect } from "chai";
import { BackendOptionsError } from "../../src/config/errors";
import { CdnPurgeError, type PurgeClock } from "../../src/backends/cdn/purgeClient";
import { CloudflareBackend, describeCloudflareErrors } from "../../src/backends/cloudflare";
import { CompositeBackend, CompositeBackendError } from "../../src/backends/composite";
import { KeyvCacheBackend } from "../../src/backends/keyv";
import type { CachedResponse } from "../../src/backends/types";
import { resetProblemReports, setCacheLogger, silentLogger, type CacheLogger } from "../../src/logger";
import { FakeCdnApi, startFakeCloudflare } from "../support/fakeCdnApis";

const TOKEN = "cf-test-token";
const ZONE = "023e105f4ecef8ad9ca31a8372d0c353";
const page = (headers: Record<string, string | string[]> = {}): CachedResponse => ({ status: 200, headers, body: Buffer.from("{}") });
const quick = { retryBaseDelayMs: 1, retryMaxDelayMs: 5, timeoutMs: 2000 };

describe("CloudflareBackend", () => {
  let api: FakeCdnApi;
  let cloudflare: CloudflareBackend;

  beforeEach(async () => {
    api = await startFakeCloudflare({ apiToken: TOKEN, zoneId: ZONE });
    cloudflare = new CloudflareBackend({ apiToken: TOKEN, zoneId: ZONE, endpoint: api.endpoint, ...quick });
  });
  afterEach(async () => {
    await api.close();
    expect(api.problems, "requests the fake Cloudflare API refused as malformed").to.deep.equal([]);
  });

  describe("tag header", () => {
    it("adds a comma-separated Cache-Tag without spaces, one per case-insensitive tag", () => {
      const out = cloudflare.prepareResponse(page({ "cache-control": "max-age=60" }), ["Products", "product 1", "products", "a,b"]);
      expect(out.headers["cache-tag"]).to.equal("Products,product-1,a%2Cb");
      expect(out.headers["cache-control"]).to.equal("max-age=60");
    });

    describe("past 16 KB", () => {
      let reports: string[];
      let previous: CacheLogger;
      beforeEach(() => {
        reports = [];
        resetProblemReports();
        previous = setCacheLogger({ warn: (m) => reports.push(m), error: (m) => reports.push(m) });
      });
      afterEach(() => setCacheLogger(previous ?? silentLogger));

      it("sends the response private, without Cache-Tag, and tells the logger which limit was passed", () => {
        const keys = Array.from({ length: 300 }, (_, i) => `product-${i}-${"c".repeat(60)}`);
        const out = cloudflare.prepareResponse(page({ "cache-control": "public, max-age=60, s-maxage=300" }), keys);
        expect(out.headers["cache-control"]).to.equal("private, max-age=60");
        expect(out.headers).to.not.have.property("cache-tag");
        expect(reports).to.have.length(1);
        expect(reports[0]).to.match(
          /CloudflareBackend: 300 tags need \d+ bytes in the cache-tag header, over the limit of 16384; .*Cache-Control: private.*fewer tags/,
        );
      });
    });
  });

  it("purges with POST /zones/{zone}/purge_cache, Bearer auth and {tags}, and returns the number of tags", async () => {
    expect(await cloudflare.invalidateBySurrogates(["products", "product 1"])).to.equal(2);
    const [request] = api.received;
    expect(request.method).to.equal("POST");
    expect(request.path).to.equal(`/client/v4/zones/${ZONE}/purge_cache`);
    expect(request.headers.authorization).to.equal(`Bearer ${TOKEN}`);
    expect(request.keys).to.deep.equal(["products", "product-1"]);
  });

  it("sends at most 100 tags a call and each tag once, ignoring case", async () => {
    const keys = [...Array.from({ length: 250 }, (_, i) => `tag-${i}`), "TAG-1", "Tag-2"];
    expect(await cloudflare.invalidateBySurrogates(keys)).to.equal(250);
    expect(api.received.map((r) => r.keys.length).sort((a, b) => b - a)).to.deep.equal([100, 100, 50]);
  });

  it("honours a smaller batchSize with bounded concurrency", async () => {
    api.delayMs = 20;
    const small = new CloudflareBackend({ apiToken: TOKEN, zoneId: ZONE, endpoint: api.endpoint, batchSize: 10, concurrency: 2 });
    expect(await small.invalidateBySurrogates(Array.from({ length: 95 }, (_, i) => `t${i}`))).to.equal(95);
    expect(api.received).to.have.length(10);
    expect(api.maxInFlight).to.equal(2);
  });

  it("turns success:false into an error naming Cloudflare's codes and messages, without retrying", async () => {
    api.enqueue({
      status: 200,
      body: {
        success: false,
        errors: [
          { code: 1134, message: "Invalid tag" },
          { code: 1015, message: "Too many tags" },
        ],
        messages: [],
        result: null,
      },
    });
    const error = (await cloudflare.invalidateBySurrogate("products").catch((e: unknown) => e)) as CdnPurgeError;
    expect(error).to.be.instanceOf(CdnPurgeError);
    expect(error.message).to.include('Cloudflare refused the purge of 1 tag(s) (HTTP 200, success: false): 1134 "Invalid tag"; 1015 "Too many tags"');
    expect(api.received).to.have.length(1);
  });

  it("names the error codes and says to check apiToken when Cloudflare refuses the token", async () => {
    const wrong = new CloudflareBackend({ apiToken: "nope", zoneId: ZONE, endpoint: api.endpoint, ...quick });
    const error = (await wrong.invalidateBySurrogate("products").catch((e: unknown) => e)) as CdnPurgeError;
    expect(error.message).to.match(/HTTP 403 .*Cloudflare errors: 10000 "Authentication error"; check apiToken/);
    expect(error.failures[0].error.retryable).to.equal(false);
  });

  it("waits as long as retry-after says on 429, then purges", async () => {
    let now = Date.now();
    const waits: number[] = [];
    const clock: PurgeClock = { now: () => now, sleep: async (ms) => void (waits.push(ms), (now += ms)) };
    const limited = new CloudflareBackend({ apiToken: TOKEN, zoneId: ZONE, endpoint: api.endpoint, clock });
    api.enqueue({ status: 429, headers: { "retry-after": "7" }, body: { success: false, errors: [{ code: 971, message: "Please wait" }] } });
    expect(await limited.invalidateBySurrogate("products")).to.equal(1);
    expect(waits).to.deep.equal([7000]);
  });

  it("retries 5xx and reports the batches that still fail while the others are purged", async () => {
    api.respond = (request) => (request.keys.includes("t150") ? { status: 502 } : undefined);
    const error = (await cloudflare.invalidateBySurrogates(Array.from({ length: 250 }, (_, i) => `t${i}`)).catch((e: unknown) => e)) as CdnPurgeError;
    expect(error).to.be.instanceOf(CdnPurgeError);
    expect(error.failedKeys).to.have.length(100);
    expect(error.failedKeys).to.include("t150");
    expect(error.purged).to.equal(150);
    expect(error.failures[0].error.attempts).to.equal(6);
    expect(api.purgedKeys()).to.have.length(150);
  });

  it("gives up on a request without an answer after timeoutMs", async () => {
    api.respond = () => ({ hang: true });
    const slow = new CloudflareBackend({ apiToken: TOKEN, zoneId: ZONE, endpoint: api.endpoint, timeoutMs: 50, maxRetries: 0 });
    const started = Date.now();
    const error = (await slow.invalidateBySurrogate("products").catch((e: unknown) => e)) as CdnPurgeError;
    expect(Date.now() - started).to.be.below(1000);
    expect(error.message).to.match(/did not answer POST .* within 50 ms/);
  });

  it("describes Cloudflare error lists, also empty ones", () => {
    expect(describeCloudflareErrors({ errors: [{ code: 7003, message: "No route" }] })).to.equal('7003 "No route"');
    expect(describeCloudflareErrors({ success: false, errors: [] })).to.equal("no error details");
    expect(describeCloudflareErrors(undefined)).to.equal("no error details");
  });

  it("says which option is wrong when built directly with bad options", () => {
    expect(() => new CloudflareBackend({ apiToken: TOKEN } as never)).to.throw(TypeError, /Invalid CloudflareBackend options at zoneId: zoneId is required/);
    expect(() => new CloudflareBackend({ apiToken: TOKEN, zoneId: ZONE, batchSize: 101 })).to.throw(
      BackendOptionsError,
      /options at batchSize: batchSize must be at most 100, Cloudflare's limit/,
    );
  });

  it("in a composite, invalidates the local entry and rejects with the aggregated Cloudflare error", async () => {
    api.respond = () => ({ status: 200, body: { success: false, errors: [{ code: 1134, message: "Invalid tag" }] } });
    const local = new KeyvCacheBackend();
    const composite = new CompositeBackend({ backends: [local, cloudflare] });
    await composite.set({ key: "page", response: page(), timeout: 60, surrogateKeys: ["products"], metadata: {} });
    const error = (await composite.invalidateBySurrogates(["products"]).catch((e: unknown) => e)) as CompositeBackendError;
    expect(error).to.be.instanceOf(CompositeBackendError);
    expect(error.result).to.equal(1);
    expect(error.parts[0].error).to.be.instanceOf(CdnPurgeError);
    expect(error.message).to.include('1134 "Invalid tag"');
    expect(await local.get("page")).to.equal(undefined);
  });
});
