import { expect } from "chai";
import { CloudflareBackend } from "../../src/backends/cloudflare";
import { CompositeBackend } from "../../src/backends/composite";
import { FastlyBackend } from "../../src/backends/fastly";
import { KeyvCacheBackend } from "../../src/backends/keyv";
import { VarnishBackend } from "../../src/backends/varnish";
import { configureCachePage, getCacheBackend, resetCachePageConfig, type CachePageConfig } from "../../src/config/configure";
import { CachePageConfigError } from "../../src/config/errors";
import { FakeCdnApi, startFakeFastly } from "../support/fakeCdnApis";

const fastly = { apiToken: "t0k3n", serviceId: "svc" };
const cloudflare = { apiToken: "t0k3n", zoneId: "zone" };
const varnish = { urls: ["http://127.0.0.1:6081/"] };

function configError(config: unknown): CachePageConfigError {
  try {
    configureCachePage(config as CachePageConfig);
  } catch (error) {
    expect(error).to.be.instanceOf(CachePageConfigError);
    return error as CachePageConfigError;
  }
  throw new Error("expected a CachePageConfigError");
}

const cdn = (backend: string, options: Record<string, unknown>) => configError({ backends: { cdn: { backend, options } } });

describe("configureCachePage with CDN backends", () => {
  afterEach(() => resetCachePageConfig());

  it("builds fastly, cloudflare and varnish by name", () => {
    configureCachePage({
      backends: {
        f: { backend: "fastly", options: { ...fastly, endpoint: "http://127.0.0.1:8080", softPurge: false, batchSize: 100, timeoutMs: 5000, maxRetries: 0 } },
        c: { backend: "cloudflare", options: { ...cloudflare, endpoint: "https://api.cloudflare.com/client/v4" } },
        v: { backend: "varnish", options: { ...varnish, softPurge: true, header: "xkey" } },
      },
    });
    const f = getCacheBackend("f") as FastlyBackend;
    expect(f).to.be.instanceOf(FastlyBackend);
    expect(f.endpoint).to.equal("http://127.0.0.1:8080");
    expect(f.softPurge).to.equal(false);
    expect(getCacheBackend("c")).to.be.instanceOf(CloudflareBackend);
    expect((getCacheBackend("v") as VarnishBackend).urls).to.deep.equal(varnish.urls);
  });

  describe("in a composite with Keyv", () => {
    let api: FakeCdnApi;
    beforeEach(async () => {
      api = await startFakeFastly(fastly);
    });
    afterEach(() => api.close());

    it("invalidates the local entry and purges the CDN through the configured default backend", async () => {
      configureCachePage({
        defaultBackend: "site",
        backends: {
          local: { backend: "keyv" },
          cdn: { backend: "fastly", options: { ...fastly, endpoint: api.endpoint } },
          site: { backend: "composite", options: { backends: ["local", "cdn"] } },
        },
      });
      const site = getCacheBackend() as CompositeBackend;
      expect(site.backends.map((b) => b.constructor)).to.deep.equal([KeyvCacheBackend, FastlyBackend]);
      await site.set({ key: "k", response: { status: 200, headers: {}, body: Buffer.from("x") }, timeout: 60, surrogateKeys: ["news"], metadata: {} });
      expect(await site.invalidateBySurrogate("news")).to.equal(1);
      expect(api.purgedKeys()).to.deep.equal(["news"]);
      expect(api.problems).to.deep.equal([]);
    });
  });

  it("names the missing apiToken", () => {
    const e = cdn("fastly", { serviceId: "svc" });
    expect(e.path).to.equal("backends.cdn.options.apiToken");
    expect(e.message).to.include("apiToken is required: a Fastly API token");
    expect(cdn("cloudflare", { zoneId: "zone" }).path).to.equal("backends.cdn.options.apiToken");
  });

  it("names the missing or empty serviceId and zoneId", () => {
    expect(cdn("fastly", { apiToken: "t" }).path).to.equal("backends.cdn.options.serviceId");
    expect(cdn("fastly", { apiToken: "t", serviceId: "" }).message).to.include("serviceId must not be empty");
    expect(cdn("cloudflare", { apiToken: "t", zoneId: 42 }).message).to.include("zoneId must be a string");
  });

  it("refuses an endpoint that is not an http(s) URL with its scheme", () => {
    for (const endpoint of ["api.fastly.com", "ftp://api.fastly.com", "not a url", 42]) {
      const e = cdn("fastly", { ...fastly, endpoint });
      expect(e.path, String(endpoint)).to.equal("backends.cdn.options.endpoint");
      expect(e.message).to.include("endpoint must be an http:// or https:// URL");
    }
  });

  it("accepts loopback and intranet endpoints without a top-level domain", () => {
    configureCachePage({ backends: { a: { backend: "cloudflare", options: { ...cloudflare, endpoint: "http://localhost:9999/client/v4" } } } });
    configureCachePage({ backends: { a: { backend: "fastly", options: { ...fastly, endpoint: "http://fastly-proxy:8080" } } } });
  });

  it("requires varnish urls as a non-empty array of URLs and names the bad one", () => {
    expect(cdn("varnish", {}).message).to.include("urls is required");
    const notArray = cdn("varnish", { urls: "http://127.0.0.1:6081/" });
    expect(notArray.problems.map((p) => p.message)).to.include("urls must be an array of URLs");
    expect(cdn("varnish", { urls: [] }).message).to.include("urls must name at least one Varnish instance");
    const e = cdn("varnish", { urls: ["http://127.0.0.1:6081/", "127.0.0.1:6082"] });
    expect(e.path).to.equal("backends.cdn.options.urls");
    expect(e.message).to.include("each entry of urls must be an http:// or https:// URL");
  });

  it("refuses numbers that are not positive and batch sizes over the CDN's limit", () => {
    expect(cdn("fastly", { ...fastly, timeoutMs: 0 }).path).to.equal("backends.cdn.options.timeoutMs");
    expect(cdn("fastly", { ...fastly, concurrency: 1.5 }).path).to.equal("backends.cdn.options.concurrency");
    expect(cdn("varnish", { ...varnish, maxRetries: -1 }).message).to.include("maxRetries must be 0 or more");
    expect(cdn("cloudflare", { ...cloudflare, retryBudgetMs: "30s" }).message).to.include("retryBudgetMs must be a positive number");
    expect(cdn("fastly", { ...fastly, batchSize: 257 }).message).to.include("at most 256, Fastly's limit");
    expect(cdn("cloudflare", { ...cloudflare, batchSize: 101 }).message).to.include("at most 100, Cloudflare's limit");
  });

  it("refuses options it does not know and wrong types", () => {
    expect(cdn("fastly", { ...fastly, apiKey: "x" }).message).to.include('unknown option "apiKey"');
    expect(cdn("fastly", { ...fastly, softPurge: "yes" }).message).to.include("softPurge must be true or false");
    expect(cdn("varnish", { ...varnish, header: "x key" }).message).to.include("header must be an HTTP header name");
  });

  it("keeps the previous configuration when a CDN backend is misconfigured", () => {
    configureCachePage({ backends: { cdn: { backend: "varnish", options: varnish } } });
    const before = getCacheBackend("cdn");
    cdn("fastly", { serviceId: "svc" });
    expect(getCacheBackend("cdn")).to.equal(before);
  });
});
