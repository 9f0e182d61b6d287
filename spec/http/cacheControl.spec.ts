import { expect } from "chai";
import { parseCacheControl } from "../../src/http/cacheControl";
import { ifNoneMatchMatches, strongEtag } from "../../src/http/etag";
import { freshnessHeaders, whyNotStorable } from "../../src/http/responseRules";

const base = {
  method: "GET",
  status: 200,
  headers: {},
  statuses: new Set([200]),
  requestHasAuthorization: false,
  cacheAuthorized: false,
  bodyKnown: true,
  bodySize: 10,
  maxBodySize: 100,
};

describe("Cache-Control parsing and storage rules", () => {
  it("parses directives case-insensitively, with values and quotes, and survives garbage", () => {
    const cc = parseCacheControl('Public, MAX-AGE=60, no-cache="set-cookie, x", ,,=, =x, s-maxage="5"');
    expect(cc.get("public")).to.equal(true);
    expect(cc.get("max-age")).to.equal("60");
    expect(cc.get("no-cache")).to.equal("set-cookie, x");
    expect(cc.get("s-maxage")).to.equal("5");
    expect(parseCacheControl("\u0000\u00ff;;;\"").size).to.equal(0);
    expect(parseCacheControl("x".repeat(100_000)).size).to.equal(1);
  });

  it("refuses what must not be stored and says why", () => {
    expect(whyNotStorable(base)).to.equal(undefined);
    expect(whyNotStorable({ ...base, method: "HEAD" })).to.match(/HEAD/);
    expect(whyNotStorable({ ...base, status: 404 })).to.match(/404/);
    expect(whyNotStorable({ ...base, headers: { "set-cookie": ["a=b"] } })).to.match(/cookie/);
    expect(whyNotStorable({ ...base, headers: { "cache-control": "no-cache" } })).to.match(/no-cache/);
    expect(whyNotStorable({ ...base, headers: { "cache-control": "max-age=5, x-private" } })).to.equal(undefined);
    expect(whyNotStorable({ ...base, headers: { vary: "*" } })).to.match(/Vary/);
    expect(whyNotStorable({ ...base, requestHasAuthorization: true })).to.match(/Authorization/);
    expect(whyNotStorable({ ...base, requestHasAuthorization: true, headers: { "cache-control": "s-maxage=5" } })).to.equal(undefined);
    expect(whyNotStorable({ ...base, requestHasAuthorization: true, cacheAuthorized: true })).to.equal(undefined);
    expect(whyNotStorable({ ...base, bodyKnown: false, bodySize: undefined })).to.match(/streamed/);
    expect(whyNotStorable({ ...base, bodySize: 101 })).to.match(/maxBodySize/);
  });

  it("computes freshness: the smaller max-age wins, other directives stay", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(freshnessHeaders(undefined, 60, now)["cache-control"]).to.equal("max-age=60");
    expect(freshnessHeaders("public, max-age=10", 60, now)["cache-control"]).to.equal("public, max-age=10");
    expect(freshnessHeaders("max-age=600, must-revalidate", 60, now)["cache-control"]).to.equal("max-age=60, must-revalidate");
    expect(freshnessHeaders(undefined, 60, now).expires).to.equal(new Date(now + 60_000).toUTCString());
  });

  it("matches If-None-Match weakly, with lists and *, and not on garbage", () => {
    const tag = strongEtag(Buffer.from("x"));
    expect(ifNoneMatchMatches(tag, tag)).to.equal(true);
    expect(ifNoneMatchMatches(`W/${tag}`, tag)).to.equal(true);
    expect(ifNoneMatchMatches(`"a", ${tag}`, tag)).to.equal(true);
    expect(ifNoneMatchMatches("*", tag)).to.equal(true);
    expect(ifNoneMatchMatches('"a"', tag)).to.equal(false);
    expect(ifNoneMatchMatches("garbage", tag)).to.equal(false);
    expect(ifNoneMatchMatches(tag, undefined)).to.equal(false);
  });
});
