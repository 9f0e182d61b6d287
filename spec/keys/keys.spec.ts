import { expect } from "chai";
import {
  generateCacheKey,
  generateQueryParamsCacheKey,
  hashKey,
  surrogateFromModel,
  surrogateFromPath,
  surrogateFromQueryParams,
  surrogateFromUser,
  type CacheRequest,
} from "../../src";
import { buildStorageKey } from "../../src/keys/storageKey";
import { parseQuery } from "../../src/http/CacheRequest";

function req(url: string, extra: Partial<CacheRequest> = {}): CacheRequest {
  const q = url.indexOf("?");
  return {
    method: "GET",
    path: q < 0 ? url : url.slice(0, q),
    url,
    query: parseQuery(q < 0 ? "" : url.slice(q + 1)),
    params: {},
    headers: {},
    raw: {},
    ...extra,
  };
}

describe("key generators", () => {
  it("keeps /my-path and /mypath apart (the Python original merged them)", () => {
    expect(generateCacheKey(req("/my-path"))).not.to.equal(generateCacheKey(req("/mypath")));
  });

  it("ignores parameter order and keeps every value of a repeated parameter", () => {
    expect(generateCacheKey(req("/p?b=2&a=1"))).to.equal(generateCacheKey(req("/p?a=1&b=2")));
    expect(generateCacheKey(req("/p?a=1&a=2"))).not.to.equal(generateCacheKey(req("/p?a=1")));
    expect(generateCacheKey(req("/p?a=1&a=2"))).not.to.equal(generateCacheKey(req("/p?a=2&a=1")));
  });

  it("cannot be fooled by separators inside names or values", () => {
    const keys = ["/p?a=1%26b%3D2", "/p?a=1&b=2", "/p?a%3D1=", "/p?a=1", "/p", "/p?", "/p%3Fa=1"].map((u) => generateCacheKey(req(u)));
    expect(new Set(keys).size).to.equal(keys.length - 1); // "/p" and "/p?" are the same request
  });

  it("builds query-only keys", () => {
    expect(generateQueryParamsCacheKey(req("/x?b=1&a=2"))).to.equal("?a=2&b=1");
    expect(generateQueryParamsCacheKey(req("/x?b=1&a=2"))).to.equal(generateQueryParamsCacheKey(req("/y?a=2&b=1")));
  });

  it("hashes with md5 to 32 lower-case hex characters", () => {
    expect(hashKey("hello")).to.equal("5d41402abc4b2a76b9719d911017c592");
  });

  it("builds storage keys that no keyFunc result can move into another prefix", () => {
    expect(buildStorageKey("a:b", "c")).not.to.equal(buildStorageKey("a", "b:c"));
    expect(buildStorageKey(undefined, "x")).to.equal(buildStorageKey("", "x"));
    expect(buildStorageKey("t", "k")).to.equal("t:k");
  });
});

describe("surrogate helpers", () => {
  it("derives a tag from the path", () => {
    expect(surrogateFromPath(req("/api/products/"))).to.equal("path-api-products");
    expect(surrogateFromPath(req("/"))).to.equal("path-root");
  });

  it("derives model tags", () => {
    expect(surrogateFromModel("Product")).to.equal("model-product");
    expect(surrogateFromModel("Product", 123)).to.equal("model-product-123");
    expect(surrogateFromModel("Product", null)).to.equal("model-product");
  });

  it("derives a user tag only when the user has an id", () => {
    expect(surrogateFromUser(req("/", { user: { id: 123 } }))).to.equal("user-123");
    expect(surrogateFromUser(req("/", { user: { name: "x" } }))).to.equal(null);
    expect(surrogateFromUser(req("/"))).to.equal(null);
  });

  it("derives tags from query parameters, skipping empty values", () => {
    expect(surrogateFromQueryParams(req("/?cat=shoes&cat=hats&q=&z=1"), ["cat", "q"])).to.deep.equal(["param-cat-shoes", "param-cat-hats"]);
    expect(surrogateFromQueryParams(req("/?b=2&a=1"))).to.deep.equal(["param-a-1", "param-b-2"]);
  });
});
