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
import { buildStorageKey, storageKeysOf } from "../../src/keys/storageKey";
import { parseQuery } from "../../src/engine/cacheRequest";

function req(url: string, extra: Partial<CacheRequest> = {}): CacheRequest {
  const q = url.indexOf("?");
  return {
    method: "GET",
    path: q < 0 ? url : url.slice(0, q),
    url,
    query: parseQuery(q < 0 ? "" : url.slice(q + 1)),
    params: {},
    headers: {},
    host: "shop.example",
    raw: {},
    ...extra,
  };
}

describe("key generators", () => {
  it("puts the host in the key: two virtual hosts never share a page", () => {
    expect(generateCacheKey(req("/p?a=1"))).to.equal("shop.example/p?a=1");
    expect(generateCacheKey(req("/p", { host: "a.example" }))).not.to.equal(generateCacheKey(req("/p", { host: "b.example" })));
    expect(generateCacheKey(req("/p", { host: "a.example:8080" }))).not.to.equal(generateCacheKey(req("/p", { host: "a.example" })));
  });

  it("keeps malformed percent escapes apart: %FF, %FE and %EF%BF%BD are three keys", () => {
    const keys = ["/p?q=%FF", "/p?q=%FE", "/p?q=%EF%BF%BD", "/p?q=%ff%20", "/p?q=%25FF"].map((u) => generateCacheKey(req(u)));
    expect(new Set(keys).size).to.equal(keys.length);
    // The same bytes written two ways are one key.
    expect(generateCacheKey(req("/p?q=%61"))).to.equal(generateCacheKey(req("/p?q=a")));
    expect(generateCacheKey(req("/p?q=a+b"))).to.equal(generateCacheKey(req("/p?q=a%20b")));
    expect(generateQueryParamsCacheKey(req("/p?q=%FF"))).not.to.equal(generateQueryParamsCacheKey(req("/p?q=%FE")));
  });

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

  it("keeps variant keys apart from every plain key and from each other", () => {
    expect(buildStorageKey("t", "k", 3)).to.equal("t|v3:k");
    expect(buildStorageKey("t", "k", 3)).not.to.equal(buildStorageKey("t|v3", "k"));
    expect(buildStorageKey("", "v3:k")).not.to.equal(buildStorageKey("", "k", 3));
    expect(new Set(storageKeysOf("t", "k")).size).to.equal(storageKeysOf("t", "k").length);
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
