import { expect } from "chai";
import { cacheStatusMember, withCacheStatus } from "../../src/http/cacheStatus";
import { parseCacheControl } from "../../src/http/cacheControl";
import { answersNotModified, ifNoneMatchMatches, strongEtag } from "../../src/http/conditional";
import { freshnessHeadersToAdd, freshSeconds, ownFreshness, ownStaleWindows } from "../../src/http/freshness";
import { storableHeaders } from "../../src/http/headers";
import { conditionalRequestHeaders, freshenedHeaders, validatorsOf } from "../../src/http/revalidation";
import { parseDictionary } from "../../src/http/structuredField";
import { formatHttpDate, parseHttpDate } from "../../src/http/httpDate";
import { whyHeadersForbidStoring, whyNotStorable } from "../../src/http/storability";
import { acceptsEncoding, normalizedRequestValue, varyNames } from "../../src/http/vary";

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
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

describe("HTTP rules (pure)", () => {
  describe("Cache-Control", () => {
    it("parses directives case-insensitively, with values and quotes, and survives garbage", () => {
      const cc = parseCacheControl('Public, MAX-AGE=60, no-cache="set-cookie, x", ,,=, =x, s-maxage="5"');
      expect(cc.get("public")).to.equal(true);
      expect(cc.get("max-age")).to.equal("60");
      expect(cc.get("no-cache")).to.equal("set-cookie, x");
      expect(cc.get("s-maxage")).to.equal("5");
      expect(parseCacheControl('\u0000\u00ff;;;"').size).to.equal(0);
      expect(parseCacheControl("x".repeat(100_000)).size).to.equal(1);
    });
  });

  describe("storability", () => {
    it("refuses what must not be stored and says why", () => {
      expect(whyNotStorable(base)).to.equal(undefined);
      expect(whyNotStorable({ ...base, method: "HEAD" })).to.match(/HEAD/);
      expect(whyNotStorable({ ...base, status: 404 })).to.match(/404/);
      expect(whyNotStorable({ ...base, status: 206, statuses: new Set([200, 206]) })).to.match(/206/);
      expect(whyNotStorable({ ...base, headers: { "set-cookie": ["a=b"] } })).to.match(/cookie/);
      expect(whyNotStorable({ ...base, headers: { "cache-control": "no-cache" } })).to.match(/no-cache/);
      expect(whyNotStorable({ ...base, headers: { "cache-control": "max-age=5, x-private" } })).to.equal(undefined);
      expect(whyNotStorable({ ...base, headers: { vary: "Accept, *" } })).to.match(/Vary/);
      expect(whyNotStorable({ ...base, requestHasAuthorization: true })).to.match(/Authorization/);
      expect(whyNotStorable({ ...base, requestHasAuthorization: true, headers: { "cache-control": "s-maxage=5" } })).to.equal(undefined);
      expect(whyNotStorable({ ...base, requestHasAuthorization: true, cacheAuthorized: true })).to.equal(undefined);
      expect(whyNotStorable({ ...base, bodyKnown: false, bodySize: undefined })).to.match(/streamed/);
      expect(whyNotStorable({ ...base, bodySize: 101 })).to.match(/maxBodySize/);
    });

    it("judges the headers that left: a cookie, private or Vary: * added on the way out forbids storing", () => {
      expect(whyHeadersForbidStoring({ "set-cookie": "sid=1" })).to.match(/cookie/);
      expect(whyHeadersForbidStoring({ "cache-control": ["max-age=5", "PRIVATE"] })).to.match(/private/);
      expect(whyHeadersForbidStoring({ vary: ["Origin", "*"] })).to.match(/Vary/);
      expect(whyHeadersForbidStoring({ vary: "Origin, Accept-Encoding" })).to.equal(undefined);
    });

    it("drops hop-by-hop headers, the ones Connection names, and Content-Length", () => {
      const out = storableHeaders(
        { connection: "x-hop, close", "x-hop": "1", "keep-alive": "t", "content-length": 3, "x-keep": "2", age: "5" },
        new Set(["age"]),
      );
      expect(out).to.deep.equal({ "x-keep": "2" });
    });
  });

  describe("freshness", () => {
    it("takes s-maxage before max-age before Expires minus Date", () => {
      expect(ownFreshness({ "cache-control": "max-age=10, s-maxage=20" }, NOW).lifetime).to.equal(20);
      expect(ownFreshness({ "cache-control": "max-age=10" }, NOW).lifetime).to.equal(10);
      const date = formatHttpDate(NOW - 5_000);
      expect(ownFreshness({ date, expires: formatHttpDate(NOW + 25_000) }, NOW).lifetime).to.equal(30);
      expect(ownFreshness({}, NOW).lifetime).to.equal(undefined);
    });

    it("treats an invalid or past Expires, and an unreadable max-age, as already stale", () => {
      expect(ownFreshness({ expires: "0" }, NOW).lifetime).to.equal(0);
      expect(ownFreshness({ expires: "not a date" }, NOW).lifetime).to.equal(0);
      expect(ownFreshness({ expires: formatHttpDate(NOW - 60_000) }, NOW).lifetime).to.equal(0);
      expect(ownFreshness({ "cache-control": "max-age=abc" }, NOW).lifetime).to.equal(0);
      expect(ownFreshness({ "cache-control": "max-age=99999999999" }, NOW).lifetime).to.equal(2147483648);
    });

    it("reads the response's own stale windows (RFC 5861), 0 for none or one that is not delta-seconds", () => {
      const own = ownFreshness({ "cache-control": "max-age=1, stale-while-revalidate=30, stale-if-error=600" }, NOW);
      expect([own.staleWhileRevalidate, own.staleIfError]).to.deep.equal([30, 600]);
      const none = ownFreshness({ "cache-control": "max-age=1" }, NOW);
      expect([none.staleWhileRevalidate, none.staleIfError]).to.deep.equal([0, 0]);
      const bad = ownFreshness({ "cache-control": "stale-while-revalidate=-1, stale-if-error=1.5" }, NOW);
      expect([bad.staleWhileRevalidate, bad.staleIfError]).to.deep.equal([0, 0]);
      // A valid CDN-Cache-Control speaks for this cache instead of Cache-Control.
      const targeted = ownFreshness({ "cdn-cache-control": "max-age=5, stale-while-revalidate=9", "cache-control": "stale-while-revalidate=99" }, NOW);
      expect(targeted.staleWhileRevalidate).to.equal(9);
    });

    it("keeps the own stale windows within timeout, and none for a response that must be revalidated", () => {
      expect(ownStaleWindows(ownFreshness({ "cache-control": "max-age=1, stale-while-revalidate=30, stale-if-error=5" }, NOW), 10)).to.deep.equal({
        whileRevalidate: 10,
        ifError: 5,
      });
      for (const cc of [
        "max-age=1, must-revalidate, stale-while-revalidate=30",
        "s-maxage=1, stale-if-error=30",
        "max-age=1, proxy-revalidate, stale-if-error=30",
      ]) {
        expect(ownStaleWindows(ownFreshness({ "cache-control": cc }, NOW), 60), cc).to.deep.equal({ whileRevalidate: 0, ifError: 0 });
      }
    });

    it("counts the response's own Age, or how far its Date lies behind", () => {
      expect(ownFreshness({ age: "7" }, NOW).age).to.equal(7);
      expect(ownFreshness({ date: formatHttpDate(NOW - 4_000) }, NOW).age).to.equal(4);
      expect(ownFreshness({ date: formatHttpDate(NOW - 4_000), age: "9" }, NOW).age).to.equal(9);
    });

    it("is fresh for the smallest of timeout and what is left of the own lifetime", () => {
      expect(freshSeconds(60, ownFreshness({}, NOW))).to.equal(60);
      expect(freshSeconds(60, ownFreshness({ "cache-control": "max-age=1" }, NOW))).to.equal(1);
      expect(freshSeconds(60, ownFreshness({ "cache-control": "max-age=600" }, NOW))).to.equal(60);
      expect(freshSeconds(60, ownFreshness({ "cache-control": "max-age=0" }, NOW))).to.equal(0);
      expect(freshSeconds(60, ownFreshness({ "cache-control": "max-age=10", age: "4" }, NOW))).to.equal(6);
      expect(freshSeconds(60, ownFreshness({ age: "50" }, NOW))).to.equal(10);
      // The timeout counts from when this cache stored it; the response's own lifetime from its origin.
      expect(freshSeconds(60, ownFreshness({ "cache-control": "max-age=10000", age: "3600" }, NOW))).to.equal(60);
      expect(freshSeconds(60, ownFreshness({ "cache-control": "max-age=100", age: ["70", "70"] }, NOW))).to.equal(30);
    });

    it("never serves must-revalidate, proxy-revalidate or s-maxage responses stale", () => {
      expect(ownFreshness({ "cache-control": "max-age=5, must-revalidate" }, NOW).mustRevalidate).to.equal(true);
      expect(ownFreshness({ "cache-control": "proxy-revalidate" }, NOW).mustRevalidate).to.equal(true);
      expect(ownFreshness({ "cache-control": "s-maxage=5" }, NOW).mustRevalidate).to.equal(true);
      expect(ownFreshness({ "cache-control": "max-age=5" }, NOW).mustRevalidate).to.equal(false);
    });

    it("adds max-age and Expires only to a response with no freshness of its own", () => {
      const none = freshnessHeadersToAdd({ "cache-control": "public" }, ownFreshness({ "cache-control": "public" }, NOW), 60, NOW, 30);
      expect(none).to.deep.equal({ "cache-control": "public, max-age=60, stale-while-revalidate=30", expires: formatHttpDate(NOW + 60_000) });
      const own = { "cache-control": "s-maxage=600, max-age=5" };
      expect(freshnessHeadersToAdd(own, ownFreshness(own, NOW), 60, NOW)).to.deep.equal({});
      const expires = { expires: formatHttpDate(NOW + 5_000) };
      expect(freshnessHeadersToAdd(expires, ownFreshness(expires, NOW), 60, NOW)).to.deep.equal({});
    });
  });

  describe("CDN-Cache-Control (RFC 9213)", () => {
    it("reads Dictionary Structured Fields strictly", () => {
      expect([...(parseDictionary("max-age=3600, foo") ?? [])]).to.deep.equal([
        ["max-age", { type: "integer", value: 3600 }],
        ["foo", { type: "boolean", value: true }],
      ]);
      expect(parseDictionary(['a="x\\"y";p=1', "b=(1 2);q, c=?0, d=:AQI=:, e=1.5, f=tok/en"])?.get("a")).to.deep.equal({ type: "string", value: 'x"y' });
      expect(parseDictionary("max-age=99999999999")?.get("max-age")).to.deep.equal({ type: "integer", value: 99999999999 });
      for (const bad of ["max-age =100", "max-age= 100", "max-age=10000, &&&&&", "MaX-aGe=3600", "a=1,", "a=1 b=2", 'a="x', "a=1234567890123456", "a=(1"]) {
        expect(parseDictionary(bad), bad).to.equal(undefined);
      }
    });

    it("replaces Cache-Control and Expires for this cache when valid", () => {
      const headers = { "cache-control": "no-store", "cdn-cache-control": "max-age=600", expires: "0" };
      expect(whyHeadersForbidStoring(headers)).to.equal(undefined);
      expect(ownFreshness(headers, NOW)).to.include({ lifetime: 600, targeted: true });
      expect(ownFreshness({ "cache-control": "max-age=5", "cdn-cache-control": "must-revalidate" }, NOW)).to.include({
        lifetime: undefined,
        mustRevalidate: true,
      });
      expect(whyHeadersForbidStoring({ "cache-control": "max-age=60", "cdn-cache-control": "private" })).to.equal("CDN-Cache-Control: private");
      expect(whyHeadersForbidStoring({ "cache-control": "max-age=60", "cdn-cache-control": "no-cache" })).to.match(/no-cache/);
      // The caches after this one keep getting what the action said to them.
      expect(freshnessHeadersToAdd(headers, ownFreshness(headers, NOW), 60, NOW)).to.deep.equal({});
    });

    it("is ignored, leaving Cache-Control to decide, when unparseable, empty or mistyped", () => {
      for (const targeted of ["max-age=10000, &&&&&", 'max-age="10000"', "max-age=-1", "", "max-age =100"]) {
        const headers = { "cache-control": "no-store", "cdn-cache-control": targeted };
        expect(whyHeadersForbidStoring(headers), targeted).to.equal("Cache-Control: no-store");
        expect(ownFreshness({ "cache-control": "max-age=1", "cdn-cache-control": targeted }, NOW).lifetime, targeted).to.equal(1);
      }
    });
  });

  describe("revalidation (RFC 9111 §4.3)", () => {
    it("asks with the action's own validators, never over the client's conditions", () => {
      expect(validatorsOf({ "content-type": "text/plain" })).to.equal(undefined);
      const validators = validatorsOf({ etag: 'W/"5-a"', "last-modified": "Wed, 01 Jan 2020 00:00:00 GMT" });
      expect(conditionalRequestHeaders(validators, { accept: "*/*" })).to.deep.equal({
        "if-none-match": 'W/"5-a"',
        "if-modified-since": "Wed, 01 Jan 2020 00:00:00 GMT",
      });
      for (const name of ["if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range"]) {
        expect(conditionalRequestHeaders(validators, { [name]: "x" }), name).to.equal(undefined);
      }
    });

    it("freshens the stored headers from a 304 but never the ones about the stored bytes", () => {
      const stored = { "x-a": "1", "x-b": "old", "cache-control": "max-age=2", "content-encoding": "gzip", date: "Wed, 01 Jan 2020 00:00:00 GMT" };
      expect(
        freshenedHeaders(stored, { "x-b": "new", "cache-control": "max-age=60", "content-length": 0, "content-encoding": "br", connection: "close" }),
      ).to.deep.equal({
        "x-a": "1",
        "x-b": "new",
        "cache-control": "max-age=60",
        "content-encoding": "gzip",
      });
      expect(freshenedHeaders(stored, { date: "Thu, 02 Jan 2020 00:00:00 GMT" }).date).to.equal("Thu, 02 Jan 2020 00:00:00 GMT");
    });
  });

  describe("HTTP dates", () => {
    it("reads the three HTTP-date forms and refuses the rest", () => {
      const ms = Date.UTC(1994, 10, 6, 8, 49, 37);
      expect(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT")).to.equal(ms);
      expect(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT")).to.equal(ms);
      expect(parseHttpDate("Sun Nov  6 08:49:37 1994")).to.equal(ms);
      for (const bad of [
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun 06 Nov 1994 08:49:37 GMT",
        "Sun,  06 Nov 1994 08:49:37 GMT",
        "Sun, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "sun, 06 nov 1994 08:49:37 gmt",
      ]) {
        expect(parseHttpDate(bad), bad).to.equal(undefined);
      }
      expect(parseHttpDate(["Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT"]), "two Expires lines").to.equal(undefined);
      expect(parseHttpDate("0")).to.equal(undefined);
      expect(parseHttpDate("-1")).to.equal(undefined);
      expect(parseHttpDate("")).to.equal(undefined);
      expect(formatHttpDate(ms + 999)).to.equal("Sun, 06 Nov 1994 08:49:37 GMT");
    });
  });

  describe("Vary", () => {
    it("names headers in lower case, sorted, without duplicates or *", () => {
      expect(varyNames(["Accept-Language, Origin", "origin"])).to.deep.equal(["accept-language", "origin"]);
      expect(varyNames(undefined)).to.deep.equal([]);
    });

    it("tells an absent header from an empty one and folds white space", () => {
      expect(normalizedRequestValue(undefined)).to.equal(null);
      expect(normalizedRequestValue("")).to.equal("");
      expect(normalizedRequestValue(["en ,  fr", "de"])).to.equal("en,fr,de");
    });

    it("reads Accept-Encoding with q-values", () => {
      expect(acceptsEncoding("gzip, br", "gzip")).to.equal(true);
      expect(acceptsEncoding("gzip;q=0, br", "gzip")).to.equal(false);
      expect(acceptsEncoding("identity", "gzip")).to.equal(false);
      expect(acceptsEncoding("*", "br")).to.equal(true);
      expect(acceptsEncoding("br", "identity")).to.equal(true);
      expect(acceptsEncoding(undefined, "gzip")).to.equal(true);
    });
  });

  describe("conditional requests", () => {
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

    it("answers If-Modified-Since from Last-Modified, else Date, and lets If-None-Match win", () => {
      const lastModified = formatHttpDate(NOW - 60_000);
      expect(answersNotModified({ "if-modified-since": formatHttpDate(NOW - 60_000) }, { lastModified })).to.equal(true);
      expect(answersNotModified({ "if-modified-since": formatHttpDate(NOW - 120_000) }, { lastModified })).to.equal(false);
      expect(answersNotModified({ "if-modified-since": formatHttpDate(NOW) }, { date: formatHttpDate(NOW - 1_000) })).to.equal(true);
      expect(answersNotModified({ "if-modified-since": "garbage" }, { lastModified })).to.equal(false);
      expect(answersNotModified({ "if-none-match": '"nope"', "if-modified-since": formatHttpDate(NOW) }, { etag: '"x"', lastModified })).to.equal(false);
    });
  });

  describe("Cache-Status (RFC 9211)", () => {
    it("writes our member after any the response had", () => {
      expect(cacheStatusMember({ kind: "hit", ttl: 41.7 })).to.equal("custom-cache-page; hit; ttl=41");
      expect(cacheStatusMember({ kind: "miss", stored: false, detail: 'say "why"' })).to.equal('custom-cache-page; fwd=uri-miss; detail="say \\"why\\""');
      expect(cacheStatusMember({ kind: "bypass" })).to.equal("custom-cache-page; fwd=bypass");
      expect(withCacheStatus("origin-cache; hit", "custom-cache-page; fwd=uri-miss")).to.equal("origin-cache; hit, custom-cache-page; fwd=uri-miss");
      expect(withCacheStatus(undefined, "x")).to.equal("x");
    });
  });
});
