import { expect } from "chai";
import { createHash } from "node:crypto";
import {
  applyTagHeader,
  CdnTagHeaderFormatter,
  CLOUDFLARE_TAG_HEADER,
  FASTLY_TAG_HEADER,
  formatTagHeader,
  hashLongCdnKey,
  normalizeCdnKey,
  normalizeCdnKeys,
  privateCacheControl,
  varnishTagHeader,
} from "../../../src/backends/cdn/tagHeaderFormatter";
import type { CachedResponse } from "../../../src/backends/types";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");
const response = (headers: Record<string, string | string[]> = {}): CachedResponse => ({ status: 200, headers, body: Buffer.from("ok") });
const bytes = (s: string) => Buffer.byteLength(s);

describe("tagHeaderFormatter", () => {
  describe("normalizeCdnKey", () => {
    it("trims and turns inner white space into '-' like tag normalisation", () => {
      expect(normalizeCdnKey("  product \t list\n ", FASTLY_TAG_HEADER)).to.equal("product-list");
    });

    it("percent-encodes bytes outside printable ASCII and commas, keeping the rest", () => {
      expect(normalizeCdnKey("café", FASTLY_TAG_HEADER)).to.equal("caf%C3%A9");
      expect(normalizeCdnKey("a,b", CLOUDFLARE_TAG_HEADER)).to.equal("a%2Cb");
      expect(normalizeCdnKey("tab\u0007bell", FASTLY_TAG_HEADER)).to.equal("tab%07bell");
      expect(normalizeCdnKey("model:product/42?x=1", FASTLY_TAG_HEADER)).to.equal("model:product/42?x=1");
    });

    it("only ever yields printable ASCII without spaces or commas", () => {
      const samples = ["日本語 タグ", "emoji 🚀 launch", "a, b ,c", "\u0000\u001f\u007f", "tab\tand\u00a0nbsp"];
      for (const sample of samples) {
        const key = normalizeCdnKey(sample, CLOUDFLARE_TAG_HEADER)!;
        expect(key, sample).to.match(/^[\x21-\x2b\x2d-\x7e]+$/);
      }
    });

    it("drops keys that are empty or white space only", () => {
      expect(normalizeCdnKey("   ", FASTLY_TAG_HEADER)).to.equal(undefined);
      expect(normalizeCdnKey("", FASTLY_TAG_HEADER)).to.equal(undefined);
    });

    it("changes nothing when applied to its own output", () => {
      for (const sample of ["café au lait", "a,b", "x".repeat(3000), "50%-off", "ünïcödé ".repeat(300)]) {
        const once = normalizeCdnKey(sample, FASTLY_TAG_HEADER)!;
        expect(normalizeCdnKey(once, FASTLY_TAG_HEADER)).to.equal(once);
      }
    });
  });

  describe("hashing of long keys", () => {
    it("replaces a key over 1024 bytes with a readable head, '-md5-' and the md5 of the whole key", () => {
      const long = `report-${"x".repeat(2000)}`;
      const key = normalizeCdnKey(long, FASTLY_TAG_HEADER)!;
      expect(key).to.equal(`${long.slice(0, 64)}-md5-${md5(long)}`);
      expect(bytes(key)).to.be.at.most(1024);
    });

    it("keeps a key of exactly 1024 bytes as it is", () => {
      const exact = "k".repeat(1024);
      expect(normalizeCdnKey(exact, FASTLY_TAG_HEADER)).to.equal(exact);
      expect(normalizeCdnKey(`${exact}k`, FASTLY_TAG_HEADER)).to.match(/-md5-[0-9a-f]{32}$/);
    });

    it("hashes after encoding, so non-ASCII keys that grow past the limit are hashed too", () => {
      const key = normalizeCdnKey("é".repeat(200), FASTLY_TAG_HEADER)!; // 200 chars, 1200 encoded bytes
      expect(key).to.match(/^(%C3|%A9)+-md5-[0-9a-f]{32}$/);
      expect(bytes(key)).to.be.at.most(1024);
    });

    it("gives different long keys different hashed forms, and the same key the same form", () => {
      const a = "a".repeat(1500);
      const b = `${"a".repeat(1499)}b`;
      expect(normalizeCdnKey(a, FASTLY_TAG_HEADER)).to.not.equal(normalizeCdnKey(b, FASTLY_TAG_HEADER));
      expect(normalizeCdnKey(a, FASTLY_TAG_HEADER)).to.equal(normalizeCdnKey(a, CLOUDFLARE_TAG_HEADER));
    });

    it("never cuts through a percent escape in the readable head", () => {
      const head = hashLongCdnKey(`${"a".repeat(63)}%C3%A9${"b".repeat(2000)}`, 1024);
      expect(head.startsWith(`${"a".repeat(63)}-md5-`)).to.equal(true);
    });
  });

  describe("normalizeCdnKeys", () => {
    it("drops repeats and keeps the order (Fastly is case-sensitive)", () => {
      expect(normalizeCdnKeys(["b", "a", "b", " a ", "A"], FASTLY_TAG_HEADER)).to.deep.equal(["b", "a", "A"]);
    });

    it("drops repeats ignoring case for Cloudflare, keeping the first spelling", () => {
      expect(normalizeCdnKeys(["Products", "products", "PRODUCTS", "p-1"], CLOUDFLARE_TAG_HEADER)).to.deep.equal(["Products", "p-1"]);
    });
  });

  describe("formatTagHeader", () => {
    it("joins keys with the CDN's separator", () => {
      expect(formatTagHeader(["a", "b c", "d"], FASTLY_TAG_HEADER).values).to.deep.equal(["a b-c d"]);
      expect(formatTagHeader(["a", "b c", "d"], CLOUDFLARE_TAG_HEADER).values).to.deep.equal(["a,b-c,d"]);
      expect(formatTagHeader(["a", "b"], varnishTagHeader()).values).to.deep.equal(["a b"]);
    });

    it("gives no value for no keys", () => {
      expect(formatTagHeader([], FASTLY_TAG_HEADER)).to.deep.equal({ values: [], keys: [] });
      expect(formatTagHeader(["  "], CLOUDFLARE_TAG_HEADER)).to.deep.equal({ values: [], keys: [] });
    });

    it("splits a header past its limit over several values, each within the limit, losing no key (rules that allow it)", () => {
      const keys = Array.from({ length: 600 }, (_, i) => `product-${String(i).padStart(4, "0")}-${"x".repeat(40)}`);
      const { values, overflow } = formatTagHeader(keys, { ...FASTLY_TAG_HEADER, onOverflow: "split" });
      expect(overflow).to.equal(undefined);
      expect(values.length).to.be.greaterThan(1);
      for (const value of values) expect(bytes(value)).to.be.at.most(16384);
      expect(values.flatMap((v) => v.split(" "))).to.deep.equal(keys);
    });

    it("fills each split value as far as the limit allows", () => {
      const keys = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, "0")}${"k".repeat(998)}`); // 1000 bytes each
      const { values } = formatTagHeader(keys, { ...FASTLY_TAG_HEADER, onOverflow: "split" });
      // 16 keys + 15 separators = 16015 bytes fit; a 17th would make 17016.
      expect(values.map((v) => v.split(" ").length)).to.deep.equal([16, 16, 8]);
    });

    it("splits the Varnish header below Varnish's 8 KB header line limit", () => {
      const keys = Array.from({ length: 70 }, (_, i) => `${i}-${"v".repeat(200)}`); // 14 KB: split, not hashed
      const { values } = formatTagHeader(keys, varnishTagHeader());
      expect(values.length).to.be.greaterThan(1);
      for (const value of values) expect(bytes(value)).to.be.at.most(8000);
    });

    it("reports an overflow instead of a value for Fastly past 16384 bytes (Fastly reads one field only)", () => {
      const keys = Array.from({ length: 600 }, (_, i) => `product-${String(i).padStart(4, "0")}-${"x".repeat(40)}`);
      const result = formatTagHeader(keys, FASTLY_TAG_HEADER);
      expect(result.values).to.deep.equal([]);
      expect(result.overflow).to.not.equal(undefined);
    });

    it("reports an overflow instead of a value for Cloudflare past 16384 bytes", () => {
      const keys = Array.from({ length: 400 }, (_, i) => `tag-${i}-${"c".repeat(40)}`);
      const result = formatTagHeader(keys, CLOUDFLARE_TAG_HEADER);
      expect(result.values).to.deep.equal([]);
      expect(result.overflow!.limit).to.equal(16384);
      expect(result.overflow!.bytes).to.equal(bytes(keys.join(",")));
    });

    it("keeps a Cloudflare header of exactly 16384 bytes", () => {
      const keys = Array.from({ length: 16 }, (_, i) => `${String(i).padStart(2, "0")}${"k".repeat(1022)}`); // 16 * 1024 + 15 commas
      const trimmed = [...keys.slice(0, 15), keys[15].slice(0, 1024 - 15)];
      const result = formatTagHeader(trimmed, CLOUDFLARE_TAG_HEADER);
      expect(bytes(result.values[0])).to.equal(16384);
      expect(result.overflow).to.equal(undefined);
    });
  });

  describe("privateCacheControl", () => {
    it("puts private first and removes what contradicts it", () => {
      expect(privateCacheControl("public, max-age=60, s-maxage=600")).to.equal("private, max-age=60");
      expect(privateCacheControl(undefined)).to.equal("private");
      expect(privateCacheControl(["max-age=5", "Private"])).to.equal("private, max-age=5");
      expect(privateCacheControl("PUBLIC,must-revalidate")).to.equal("private, must-revalidate");
    });
  });

  describe("applyTagHeader", () => {
    it("sets the header under its lower-case name and leaves the input untouched", () => {
      const input = response({ "content-type": "text/plain" });
      const { response: out } = applyTagHeader(input, ["products", "product-1"], FASTLY_TAG_HEADER);
      expect(out.headers).to.deep.equal({ "content-type": "text/plain", "surrogate-key": "products product-1" });
      expect(input.headers).to.deep.equal({ "content-type": "text/plain" });
      expect(out.body).to.equal(input.body);
    });

    it("adds to the keys the response already carried, once each", () => {
      const { response: out } = applyTagHeader(response({ "surrogate-key": "app-set shared" }), ["shared", "ours"], FASTLY_TAG_HEADER);
      expect(out.headers["surrogate-key"]).to.equal("app-set shared ours");
    });

    it("gives the same response when applied again (a hit re-prepares the stored response)", () => {
      const keys = [...Array.from({ length: 500 }, (_, i) => `k-${i}-${"z".repeat(40)}`), "é long ".repeat(400)];
      for (const rules of [FASTLY_TAG_HEADER, CLOUDFLARE_TAG_HEADER, varnishTagHeader()]) {
        const once = applyTagHeader(response({ "cache-control": "max-age=60" }), keys, rules).response;
        const twice = applyTagHeader(once, keys, rules).response;
        expect(twice.headers, rules.cdn).to.deep.equal(once.headers);
      }
    });

    it("sends a split header as an array of values", () => {
      const keys = Array.from({ length: 300 }, (_, i) => `p-${i}-${"y".repeat(40)}`);
      const header = applyTagHeader(response(), keys, varnishTagHeader()).response.headers.xkey;
      expect(header).to.be.an("array").with.length.greaterThan(1);
    });

    it("makes an oversized Cloudflare response private, without a Cache-Tag, and says so", () => {
      const keys = Array.from({ length: 400 }, (_, i) => `tag-${i}-${"c".repeat(40)}`);
      const outcome = applyTagHeader(response({ "cache-control": "public, max-age=60", "cache-tag": "old" }), keys, CLOUDFLARE_TAG_HEADER);
      expect(outcome.response.headers["cache-control"]).to.equal("private, max-age=60");
      expect(outcome.response.headers).to.not.have.property("cache-tag");
      expect(outcome.overflow).to.include({ keys: 401, limit: 16384 });
    });

    it("drops the targeted fields a CDN would follow instead of the private Cache-Control", () => {
      const keys = Array.from({ length: 400 }, (_, i) => `tag-${i}-${"c".repeat(40)}`);
      const targeted = { "cdn-cache-control": "max-age=600", "cloudflare-cdn-cache-control": "max-age=60", "surrogate-control": "max-age=60" };
      const outcome = applyTagHeader(response({ "cache-control": "max-age=60", ...targeted }), keys, CLOUDFLARE_TAG_HEADER);
      expect(outcome.response.headers).to.deep.equal({ "cache-control": "private, max-age=60" });
    });

    it("reads an existing xkey header split on spaces and commas", () => {
      const { response: out } = applyTagHeader(response({ xkey: ["a, b", "c"] }), ["d"], varnishTagHeader());
      expect(out.headers.xkey).to.equal("a b c d");
    });
  });

  describe("CdnTagHeaderFormatter", () => {
    it("normalises purge keys exactly as the header does", () => {
      const formatter = new CdnTagHeaderFormatter(CLOUDFLARE_TAG_HEADER);
      const keys = ["Café", "café", "x".repeat(2000), "a b"];
      const header = formatter.apply(response(), keys).response.headers["cache-tag"] as string;
      expect(formatter.normalizeKeys(keys)).to.deep.equal(header.split(","));
    });

    it("refuses rules whose key limit could not fit a hashed key or a header", () => {
      expect(() => new CdnTagHeaderFormatter({ ...FASTLY_TAG_HEADER, maxKeyBytes: 20 })).to.throw(RangeError, /maxKeyBytes/);
      expect(() => new CdnTagHeaderFormatter({ ...FASTLY_TAG_HEADER, maxHeaderBytes: 100 })).to.throw(RangeError, /maxHeaderBytes/);
    });

    it("uses the configured header name in lower case", () => {
      expect(new CdnTagHeaderFormatter(varnishTagHeader("X-HashTwo")).headerName).to.equal("x-hashtwo");
    });
  });
});
