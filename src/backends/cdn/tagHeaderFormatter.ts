import { createHash } from "node:crypto";
import type { CachedResponse } from "../types";

/**
 * What a CDN accepts in its tag header. The built-in rules are {@link FASTLY_TAG_HEADER},
 * {@link CLOUDFLARE_TAG_HEADER} and {@link varnishTagHeader}; copy one and change a limit to adapt.
 *
 * @example
 * const rules: TagHeaderRules = { ...FASTLY_TAG_HEADER, maxHeaderBytes: 8192 };
 */
export interface TagHeaderRules {
  /** The CDN's name, for messages. */
  cdn: string;
  /** Lower-case header name, e.g. `surrogate-key`. */
  headerName: string;
  /** What joins the keys in one header value. */
  separator: " " | ",";
  /** How an existing header value of the response is cut into keys. */
  valueSplitter: RegExp;
  /** A longer key (in bytes) is replaced by a hashed form, see {@link hashLongCdnKey}. */
  maxKeyBytes: number;
  /** Largest header value, in bytes. */
  maxHeaderBytes: number;
  /** The CDN treats `Products` and `products` as one tag. */
  caseInsensitive: boolean;
  /**
   * When the keys do not fit in one header value: `split` sends several header fields (the CDN
   * reads them all); `private` drops the header and sends `Cache-Control: private`, so the CDN
   * does not keep a response it could not purge by every tag.
   */
  onOverflow: "split" | "private";
  /**
   * Most bytes of all tag header fields together (default: no limit beyond `maxHeaderBytes` per
   * field). Past it, the keys are replaced by hash buckets when `hashBuckets` is set, else the
   * response is made `private`.
   */
  maxTotalBytes?: number;
  /**
   * When the keys pass `maxTotalBytes`: send instead the bucket key of each (`ccp-b-<3 hex>`, one of
   * `hashBuckets` buckets, at most 1024), and purge every key together with its bucket key, so a
   * page with too many tags is still purged by each of them (and sometimes by other tags that share
   * a bucket: it is purged more often, never served stale). Every process must use the same value.
   */
  hashBuckets?: number;
}

/**
 * Fastly: `Surrogate-Key`, space-separated, keys up to 1024 bytes, a header up to 16 KB; a larger
 * set goes over several `Surrogate-Key` fields.
 *
 * @example
 * formatTagHeader(["product-1", "products"], FASTLY_TAG_HEADER).values // ["product-1 products"]
 */
export const FASTLY_TAG_HEADER: Readonly<TagHeaderRules> = Object.freeze({
  cdn: "Fastly",
  headerName: "surrogate-key",
  separator: " ",
  valueSplitter: /\s+/,
  maxKeyBytes: 1024,
  maxHeaderBytes: 16384,
  caseInsensitive: false,
  // Fastly applies only the keys within the first 16 KB of Surrogate-Key and documents no
  // second field: past the limit the page is kept off the edge rather than half-purgeable.
  onOverflow: "private",
});

/**
 * Cloudflare: `Cache-Tag`, comma-separated without spaces, case-insensitive, tags up to 1024
 * characters and 16 KB in all. Cloudflare reads one header only, so an oversized set makes the
 * response `private` at the edge instead of losing tags.
 *
 * @example
 * formatTagHeader(["Products", "products", "p-1"], CLOUDFLARE_TAG_HEADER).values // ["Products,p-1"]
 */
export const CLOUDFLARE_TAG_HEADER: Readonly<TagHeaderRules> = Object.freeze({
  cdn: "Cloudflare",
  headerName: "cache-tag",
  separator: ",",
  valueSplitter: /\s*,\s*/,
  maxKeyBytes: 1024,
  maxHeaderBytes: 16384,
  caseInsensitive: true,
  onOverflow: "private",
});

/**
 * Varnish with the xkey vmod: space-separated keys (xkey also splits on commas), several header
 * fields allowed. Values stay under 8000 bytes because Varnish refuses backend response header
 * lines longer than its `http_resp_hdr_len` parameter (8 KB by default).
 *
 * @example
 * varnishTagHeader("xkey").headerName // "xkey"
 */
export function varnishTagHeader(headerName = "xkey"): TagHeaderRules {
  return {
    cdn: "Varnish",
    headerName: headerName.toLowerCase(),
    separator: " ",
    valueSplitter: /[\s,]+/,
    maxKeyBytes: 1024,
    maxHeaderBytes: 8000,
    caseInsensitive: false,
    onOverflow: "split",
    // varnishd answers 503 for a backend response whose headers pass http_resp_size (32 KB in all):
    // the tags keep to half of it, past that they go by hash bucket (at most ~10 KB).
    maxTotalBytes: VARNISH_MAX_TAG_BYTES,
    hashBuckets: DEFAULT_HASH_BUCKETS,
  };
}

/**
 * The most bytes of `xkey` header fields a Varnish response gets before its keys go by hash bucket:
 * half of varnishd's default `http_resp_size` (32 KB for every header of a backend response).
 *
 * @example
 * new VarnishBackend({ urls, tagHeaderFormatter: new CdnTagHeaderFormatter({ ...varnishTagHeader(), maxTotalBytes: VARNISH_MAX_TAG_BYTES / 2 }) });
 */
export const VARNISH_MAX_TAG_BYTES = 16000;

/** Buckets of the hashed form of a tag set too large for the header (see `TagHeaderRules.hashBuckets`). */
export const DEFAULT_HASH_BUCKETS = 1024;

const BUCKET_PREFIX = "ccp-b-";
const BUCKET_KEY = /^ccp-b-[0-9a-f]{3}$/;

/**
 * True for a hash bucket key (`ccp-b-` and 3 hex digits), see {@link hashBucketKey}.
 *
 * @example
 * isHashBucketKey("ccp-b-1f3") // true
 */
export function isHashBucketKey(key: string): boolean {
  return BUCKET_KEY.test(key);
}

/**
 * The hash bucket key of a normalised key: `ccp-b-` and 3 hex digits (MD5 of the key modulo
 * `buckets`). A bucket key is its own bucket, so preparing a response twice changes nothing.
 *
 * @example
 * hashBucketKey("product-1", 1024) // e.g. "ccp-b-1f3"
 */
export function hashBucketKey(normalizedKey: string, buckets: number = DEFAULT_HASH_BUCKETS): string {
  if (BUCKET_KEY.test(normalizedKey)) return normalizedKey;
  const n = Math.max(1, Math.min(4096, Math.floor(buckets)));
  const bucket = createHash("md5").update(normalizedKey, "utf8").digest().readUInt32BE(0) % n;
  return `${BUCKET_PREFIX}${bucket.toString(16).padStart(3, "0")}`;
}

/** Length of the readable head kept in front of the hash of a long key. */
const HASHED_HEAD_LENGTH = 64;
const HASH_MARK = "-md5-";

/**
 * One key as the CDN accepts it, or undefined when nothing is left. Trims, turns inner white space
 * into `-` (as tag normalisation does), and percent-encodes (UTF-8) every byte that is not
 * printable ASCII, plus `,` (a separator for Cloudflare and xkey). A key still longer than
 * `maxKeyBytes` is hashed by {@link hashLongCdnKey}. Normalising twice changes nothing (`%` itself is
 * kept as is), which matters because a stored response already carrying the header is prepared again
 * on every hit.
 *
 * @example
 * normalizeCdnKey("  café au lait ", FASTLY_TAG_HEADER) // "caf%C3%A9-au-lait"
 */
export function normalizeCdnKey(key: string, rules: TagHeaderRules): string | undefined {
  const trimmed = String(key).trim().replace(/\s+/g, "-");
  if (trimmed === "") return undefined;
  let encoded = "";
  for (const char of trimmed) {
    const code = char.codePointAt(0)!;
    if (code > 0x20 && code < 0x7f && char !== ",") encoded += char;
    else for (const byte of Buffer.from(char, "utf8")) encoded += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return Buffer.byteLength(encoded) > rules.maxKeyBytes ? hashLongCdnKey(encoded, rules.maxKeyBytes) : encoded;
}

/**
 * The form of a key over the CDN's per-key limit: its first 64 characters (so logs stay readable),
 * `-md5-`, then the MD5 of the whole normalised key as 32 hex digits, e.g.
 * `report-2024-…-md5-5d41402abc4b2a76b9719d911017c592`. Header and purge compute the same form, so a
 * long tag is never dropped: it is purged under its hashed name.
 *
 * @example
 * hashLongCdnKey("x".repeat(2000), 1024) // "xxxx…x-md5-<32 hex>" (101 characters)
 */
export function hashLongCdnKey(normalizedKey: string, maxKeyBytes: number): string {
  const digest = createHash("md5").update(normalizedKey, "utf8").digest("hex");
  const headLength = Math.max(0, Math.min(HASHED_HEAD_LENGTH, maxKeyBytes - HASH_MARK.length - digest.length));
  // Cut before a percent escape rather than through it, so the head stays valid percent-encoding.
  const head = normalizedKey.slice(0, headLength).replace(/%[0-9A-F]?$/, "");
  return `${head}${HASH_MARK}${digest}`;
}

/**
 * The keys as they go into the header and into a purge: normalised, hashed when too long, empty
 * ones dropped, duplicates dropped (ignoring case when the CDN does), order kept.
 *
 * @example
 * normalizeCdnKeys(["A", "a", " b c "], CLOUDFLARE_TAG_HEADER) // ["A", "b-c"]
 */
export function normalizeCdnKeys(keys: readonly string[], rules: TagHeaderRules): string[] {
  const seen = new Set<string>();
  const result: string[] = [];
  for (const key of keys) {
    const normalized = normalizeCdnKey(key, rules);
    if (normalized === undefined) continue;
    const identity = rules.caseInsensitive ? normalized.toLowerCase() : normalized;
    if (seen.has(identity)) continue;
    seen.add(identity);
    result.push(normalized);
  }
  return result;
}

/**
 * What {@link formatTagHeader} decided.
 *
 * @example
 * const { values, overflow } = formatTagHeader(tags, CLOUDFLARE_TAG_HEADER);
 * if (overflow) console.warn(`${overflow.bytes} bytes of tags, limit ${overflow.limit}`);
 */
export interface TagHeaderValues {
  /** Header values to send (several fields when split); empty when there is no key or on a `private` overflow. */
  values: string[];
  /** The normalised keys, in order. */
  keys: string[];
  /** Set when the keys did not fit one value and the rules say `private`. */
  overflow?: { bytes: number; limit: number };
  /** Set when the keys passed `maxTotalBytes` and went out as hash buckets instead. */
  hashed?: { bytes: number; limit: number; buckets: number };
}

/**
 * Joins normalised keys into header values of at most `maxHeaderBytes` each. With `split` rules
 * every key ends up in exactly one value; with `private` rules an oversized set gives no value and
 * an `overflow` note instead.
 *
 * @example
 * formatTagHeader(["a", "b"], FASTLY_TAG_HEADER) // { values: ["a b"], keys: ["a", "b"] }
 */
export function formatTagHeader(keys: readonly string[], rules: TagHeaderRules): TagHeaderValues {
  const normalized = normalizeCdnKeys(keys, rules);
  if (rules.maxTotalBytes !== undefined) {
    const bytes = Buffer.byteLength(normalized.join(rules.separator));
    if (bytes > rules.maxTotalBytes) {
      if (!rules.hashBuckets) return { values: [], keys: normalized, overflow: { bytes, limit: rules.maxTotalBytes } };
      const buckets = [...new Set(normalized.map((k) => hashBucketKey(k, rules.hashBuckets)))];
      const split = joinValues(buckets, rules);
      return { values: split, keys: normalized, hashed: { bytes, limit: rules.maxTotalBytes, buckets: buckets.length } };
    }
  }
  const values = joinValues(normalized, rules);
  if (values.length > 1 && rules.onOverflow === "private") {
    const bytes = Buffer.byteLength(normalized.join(rules.separator));
    return { values: [], keys: normalized, overflow: { bytes, limit: rules.maxHeaderBytes } };
  }
  return { values, keys: normalized };
}

/**
 * The keys a purge of `keys` sends: the normalised keys and, when the rules hash oversized tag
 * sets, the bucket key of each, so pages whose header carried buckets are purged too.
 *
 * @example
 * purgeKeysFor(["products"], varnishTagHeader()) // ["products", "ccp-b-…"]
 */
export function purgeKeysFor(keys: readonly string[], rules: TagHeaderRules): string[] {
  const normalized = normalizeCdnKeys(keys, rules);
  if (!rules.hashBuckets || rules.maxTotalBytes === undefined) return normalized;
  return [...new Set([...normalized, ...normalized.map((k) => hashBucketKey(k, rules.hashBuckets))])];
}

function joinValues(normalized: readonly string[], rules: TagHeaderRules): string[] {
  const values: string[] = [];
  let current = "";
  for (const key of normalized) {
    const candidate = current === "" ? key : `${current}${rules.separator}${key}`;
    if (Buffer.byteLength(candidate) <= rules.maxHeaderBytes) {
      current = candidate;
      continue;
    }
    values.push(current);
    current = key;
  }
  if (current !== "") values.push(current);
  return values;
}

/**
 * The `Cache-Control` value with `private` in front and the directives that contradict it
 * (`public`, `s-maxage`) removed; everything else (e.g. `max-age` for browsers) is kept.
 *
 * @example
 * privateCacheControl("public, max-age=60, s-maxage=600") // "private, max-age=60"
 */
export function privateCacheControl(cacheControl: string | string[] | undefined): string {
  const directives = (Array.isArray(cacheControl) ? cacheControl.join(",") : (cacheControl ?? ""))
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d !== "" && !/^(public|private|s-maxage\s*=.*)$/i.test(d));
  return ["private", ...directives].join(", ");
}

/** Fields a CDN follows instead of `Cache-Control` (RFC 9213, Cloudflare's own, Fastly's Surrogate-Control). */
const TARGETED_CACHE_FIELDS = ["cdn-cache-control", "cloudflare-cdn-cache-control", "surrogate-control"];

/**
 * What {@link applyTagHeader} returns.
 *
 * @example
 * const { response, overflow } = applyTagHeader(page, tags, CLOUDFLARE_TAG_HEADER);
 */
export interface TagHeaderOutcome {
  response: CachedResponse;
  /** Set when the tags did not fit and the response was made `private` (Cloudflare). */
  overflow?: { bytes: number; limit: number; keys: number };
  /** Set when the tags went out as hash buckets (Varnish). */
  hashed?: { bytes: number; limit: number; keys: number; buckets: number };
}

/**
 * The response with the CDN tag header set from `keys` plus any keys the response already carried
 * in that header (so applying it again changes nothing). Does not modify `response`.
 *
 * @example
 * applyTagHeader({ status: 200, headers: {}, body }, ["products"], FASTLY_TAG_HEADER).response.headers
 * // { "surrogate-key": "products" }
 */
export function applyTagHeader(response: CachedResponse, keys: readonly string[], rules: TagHeaderRules): TagHeaderOutcome {
  const existing = response.headers[rules.headerName];
  const carried = (Array.isArray(existing) ? existing : existing === undefined ? [] : [existing]).flatMap((v) => v.split(rules.valueSplitter));
  const formatted = formatTagHeader([...carried, ...keys], rules);
  const headers = { ...response.headers };
  delete headers[rules.headerName];
  if (formatted.overflow) {
    headers["cache-control"] = privateCacheControl(headers["cache-control"]);
    // A CDN reads its targeted field instead of Cache-Control (RFC 9213): it must not override `private`.
    for (const name of TARGETED_CACHE_FIELDS) delete headers[name];
    return { response: { ...response, headers }, overflow: { ...formatted.overflow, keys: formatted.keys.length } };
  }
  if (formatted.values.length === 1) headers[rules.headerName] = formatted.values[0];
  else if (formatted.values.length > 1) headers[rules.headerName] = formatted.values;
  const hashed = formatted.hashed ? { ...formatted.hashed, keys: formatted.keys.length } : undefined;
  return hashed ? { response: { ...response, headers }, hashed } : { response: { ...response, headers } };
}

/**
 * The swappable unit CDN backends use for their tag header. Purges go through `normalizeKeys` too,
 * so what is purged is exactly what the header carried.
 *
 * @example
 * class UpperCaseFormatter extends CdnTagHeaderFormatter {
 *   override normalizeKeys(keys: readonly string[]) { return super.normalizeKeys(keys.map((k) => k.toUpperCase())); }
 * }
 * new FastlyBackend({ apiToken, serviceId, tagHeaderFormatter: new UpperCaseFormatter(FASTLY_TAG_HEADER) });
 */
export interface TagHeaderFormatter {
  readonly headerName: string;
  /** The keys as the CDN knows them (header and purge). */
  normalizeKeys(keys: readonly string[]): string[];
  /** Optional: what a purge of `keys` sends, when more than {@link normalizeKeys} (e.g. hash bucket keys). */
  purgeKeys?(keys: readonly string[]): string[];
  /** The response with the tag header. */
  apply(response: CachedResponse, keys: readonly string[]): TagHeaderOutcome;
}

/**
 * The default {@link TagHeaderFormatter}: the pure functions of this file under one set of rules.
 *
 * @example
 * const formatter = new CdnTagHeaderFormatter(CLOUDFLARE_TAG_HEADER);
 * formatter.apply(response, ["products"]).response.headers["cache-tag"] // "products"
 */
export class CdnTagHeaderFormatter implements TagHeaderFormatter {
  readonly rules: Readonly<TagHeaderRules>;

  constructor(rules: TagHeaderRules) {
    // A key must always fit in a header value, else splitting could not place it.
    if (rules.hashBuckets !== undefined && !(Number.isInteger(rules.hashBuckets) && rules.hashBuckets >= 1 && rules.hashBuckets <= 4096)) {
      throw new RangeError(`${rules.cdn} tag header rules: hashBuckets must be a whole number from 1 to 4096 (got ${String(rules.hashBuckets)})`);
    }
    if (rules.maxTotalBytes !== undefined && !(rules.maxTotalBytes >= rules.maxHeaderBytes || rules.maxTotalBytes >= 4096)) {
      throw new RangeError(`${rules.cdn} tag header rules: maxTotalBytes must be at least 4096 (got ${String(rules.maxTotalBytes)})`);
    }
    if (!(rules.maxKeyBytes > HASH_MARK.length + 32) || !(rules.maxHeaderBytes >= rules.maxKeyBytes)) {
      throw new RangeError(
        `${rules.cdn} tag header rules: maxKeyBytes must be over ${HASH_MARK.length + 32} and at most maxHeaderBytes (got ${rules.maxKeyBytes} and ${rules.maxHeaderBytes})`,
      );
    }
    this.rules = Object.freeze({ ...rules, headerName: rules.headerName.toLowerCase() });
  }

  get headerName(): string {
    return this.rules.headerName;
  }

  normalizeKeys(keys: readonly string[]): string[] {
    return normalizeCdnKeys(keys, this.rules);
  }

  purgeKeys(keys: readonly string[]): string[] {
    return purgeKeysFor(keys, this.rules);
  }

  apply(response: CachedResponse, keys: readonly string[]): TagHeaderOutcome {
    return applyTagHeader(response, keys, this.rules);
  }
}
