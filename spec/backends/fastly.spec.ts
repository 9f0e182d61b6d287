import { expect } from "chai";
import { BackendOptionsError } from "../../src/config/errors";
import { createHash } from "node:crypto";
import { CdnPurgeError, type PurgeClock } from "../../src/backends/cdn/purgeClient";
import { CompositeBackend, CompositeBackendError } from "../../src/backends/composite";
import { FastlyBackend } from "../../src/backends/fastly";
import { KeyvCacheBackend } from "../../src/backends/keyv";
import type { CachedResponse } from "../../src/backends/types";
import { FakeCdnApi, startFakeFastly } from "../support/fakeCdnApis";

const TOKEN = "fastly-test-token";
const SERVICE = "SU1Z0isxPaozGVKXdv0eY";
const page = (headers: Record<string, string | string[]> = {}): CachedResponse => ({ status: 200, headers, body: Buffer.from("<h1>products</h1>") });
const quick = { retryBaseDelayMs: 1, retryMaxDelayMs: 5, timeoutMs: 2000 };

describe("FastlyBackend", () => {
  let api: FakeCdnApi;
  let fastly: FastlyBackend;

  beforeEach(async () => {
    api = await startFakeFastly({ apiToken: TOKEN, serviceId: SERVICE });
    fastly = new FastlyBackend({ apiToken: TOKEN, serviceId: SERVICE, endpoint: api.endpoint, ...quick });
  });
  afterEach(async () => {
    await api.close();
    expect(api.problems, "requests the fake Fastly API refused as malformed").to.deep.equal([]);
  });

  describe("tag header", () => {
    it("adds a space-separated Surrogate-Key and keeps the other headers", () => {
      const out = fastly.prepareResponse(page({ "content-type": "text/html", "cache-control": "max-age=60" }), ["products", "product-1"]);
      expect(out.headers).to.deep.equal({ "content-type": "text/html", "cache-control": "max-age=60", "surrogate-key": "products product-1" });
    });

    it("normalises keys and hashes one over 1024 bytes", () => {
      const long = "l".repeat(1100);
      const out = fastly.prepareResponse(page(), ["café crème", long]);
      const md5 = createHash("md5").update(long).digest("hex");
      expect(out.headers["surrogate-key"]).to.equal(`caf%C3%A9-cr%C3%A8me ${"l".repeat(64)}-md5-${md5}`);
    });

    it("keeps a page with more than 16 KB of keys off the edge (private, no Surrogate-Key) instead of half-tagging it", () => {
      const keys = Array.from({ length: 500 }, (_, i) => `product-${i}-${"s".repeat(50)}`);
      const out = fastly.prepareResponse(page({ "cache-control": "public, max-age=60" }), keys);
      expect(out.headers["surrogate-key"]).to.equal(undefined);
      expect(String(out.headers["cache-control"])).to.match(/^private/);
    });
  });

  it("stores nothing itself: the CDN keeps the pages", async () => {
    await fastly.set({ key: "k", response: page(), timeout: 60, surrogateKeys: ["products"], metadata: {} });
    expect(await fastly.get("k")).to.equal(undefined);
    expect(await fastly.delete("k")).to.equal(false);
    expect(api.received).to.deep.equal([]);
  });

  it("purges a tag with the batch API, the Fastly-Key header and a soft purge, and returns the number of keys", async () => {
    expect(await fastly.invalidateBySurrogate("products")).to.equal(1);
    expect(api.received).to.have.length(1);
    const [request] = api.received;
    expect(request.method).to.equal("POST");
    expect(request.path).to.equal(`/service/${SERVICE}/purge`);
    expect(request.headers["fastly-key"]).to.equal(TOKEN);
    expect(request.headers["fastly-soft-purge"]).to.equal("1");
    expect(request.keys).to.deep.equal(["products"]);
  });

  it("sends a hard purge when softPurge is false", async () => {
    const hard = new FastlyBackend({ apiToken: TOKEN, serviceId: SERVICE, endpoint: `${api.endpoint}/`, softPurge: false });
    await hard.invalidateBySurrogate("products");
    expect(api.received[0].headers).to.not.have.property("fastly-soft-purge");
  });

  it("purges many keys in requests of at most 256, each key once, as the header spelled them", async () => {
    const keys = Array.from({ length: 700 }, (_, i) => `item ${i % 600}`);
    keys.push("ü".repeat(600));
    expect(await fastly.invalidateBySurrogates(keys)).to.equal(601);
    expect(api.received.map((r) => r.keys.length).sort((a, b) => b - a)).to.deep.equal([256, 256, 89]);
    const header = fastly.prepareResponse(page(), keys).headers["surrogate-key"];
    expect(api.purgedKeys()).to.have.members(String(header).split(" "));
  });

  it("waits for Fastly-RateLimit-Reset on 429 and then purges", async () => {
    let now = Date.now();
    const waits: number[] = [];
    const clock: PurgeClock = { now: () => now, sleep: async (ms) => void (waits.push(ms), (now += ms)) };
    const limited = new FastlyBackend({ apiToken: TOKEN, serviceId: SERVICE, endpoint: api.endpoint, clock });
    api.enqueue({ status: 429, headers: { "fastly-ratelimit-reset": String(Math.floor(now / 1000) + 10) } });
    expect(await limited.invalidateBySurrogate("products")).to.equal(1);
    expect(waits).to.have.length(1);
    expect(waits[0]).to.be.within(9000, 10_000);
    expect(api.received.map((r) => r.status)).to.deep.equal([429, 200]);
  });

  it("rejects with an error that says to check apiToken when Fastly refuses the token", async () => {
    const wrong = new FastlyBackend({ apiToken: "revoked", serviceId: SERVICE, endpoint: api.endpoint, ...quick });
    const error = await wrong.invalidateBySurrogate("products").catch((e: unknown) => e);
    expect(error).to.be.instanceOf(CdnPurgeError);
    expect((error as CdnPurgeError).failedKeys).to.deep.equal(["products"]);
    expect((error as Error).message).to.match(/HTTP 401 .*check apiToken: it must be a valid Fastly API token with purge_select scope/);
    expect(api.received).to.have.length(1);
  });

  it("says which option is wrong when built directly with bad options", () => {
    expect(() => new FastlyBackend({ serviceId: SERVICE } as never)).to.throw(
      TypeError,
      /Invalid FastlyBackend options at apiToken: apiToken is required: a Fastly API token/,
    );
    expect(() => new FastlyBackend({ apiToken: TOKEN, serviceId: "" })).to.throw(TypeError, /options at serviceId: serviceId must not be empty/);
    expect(() => new FastlyBackend({ apiToken: TOKEN, serviceId: SERVICE, endpoint: "api.fastly.com" })).to.throw(
      TypeError,
      /options at endpoint: endpoint must be an http:\/\/ or https:\/\/ URL/,
    );
    expect(() => new FastlyBackend({ apiToken: TOKEN, serviceId: SERVICE, batchSize: 300 })).to.throw(
      BackendOptionsError,
      /options at batchSize: batchSize must be at most 256, Fastly's limit/,
    );
  });

  describe("in a CompositeBackend with a local Keyv backend", () => {
    it("invalidates locally and purges Fastly", async () => {
      const local = new KeyvCacheBackend();
      const composite = new CompositeBackend({ backends: [local, fastly] });
      await composite.set({ key: "page", response: page(), timeout: 60, surrogateKeys: ["products"], metadata: {} });
      expect(await composite.invalidateBySurrogate("products")).to.equal(1);
      expect(await local.get("page")).to.equal(undefined);
      expect(api.purgedKeys()).to.deep.equal(["products"]);
    });

    it("still invalidates locally when Fastly fails, and rejects with the aggregated purge error", async () => {
      api.respond = () => ({ status: 503, body: { msg: "service unavailable" } });
      const local = new KeyvCacheBackend();
      const composite = new CompositeBackend({
        backends: [local, new FastlyBackend({ apiToken: TOKEN, serviceId: SERVICE, endpoint: api.endpoint, ...quick, maxRetries: 2 })],
      });
      await composite.set({ key: "page", response: page(), timeout: 60, surrogateKeys: ["products"], metadata: {} });
      expect(await local.get("page")).to.not.equal(undefined);

      const error = await composite.invalidateBySurrogate("products").catch((e: unknown) => e);
      expect(error).to.be.instanceOf(CompositeBackendError);
      const composed = error as CompositeBackendError;
      expect(composed.result).to.equal(1); // the local part deleted its entry
      expect(composed.parts).to.have.length(1);
      expect(composed.parts[0].backend).to.equal("FastlyBackend");
      const purgeError = composed.parts[0].error as CdnPurgeError;
      expect(purgeError).to.be.instanceOf(CdnPurgeError);
      expect(purgeError.failedKeys).to.deep.equal(["products"]);
      expect(purgeError.message).to.include("HTTP 503").and.include("service unavailable");
      expect(await local.get("page")).to.equal(undefined);
      expect(api.received).to.have.length(3);
    });
  });
});
