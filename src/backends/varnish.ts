import { validateOptions } from "../config/validateOptions";
import { CdnBackendBase } from "./cdn/cdnBackendBase";
import { pickRetryOptions, PurgeClient, type PurgeRequest, type PurgeRetryOptions, type PurgeTransport } from "./cdn/purgeClient";
import { CdnTagHeaderFormatter, isHashBucketKey, varnishTagHeader, type TagHeaderFormatter } from "./cdn/tagHeaderFormatter";
import { VarnishBackendOptionsSchema } from "./varnishOptions";

/**
 * Options of {@link VarnishBackend}.
 *
 * @example
 * const options: VarnishBackendOptions = { urls: ["http://10.0.0.5:6081/", "http://10.0.0.6:6081/"], softPurge: true };
 */
export interface VarnishBackendOptions extends PurgeRetryOptions {
  /** Every Varnish instance to purge (each gets every purge request). */
  urls: string[];
  /** The response header xkey reads (default `xkey`; the vmod also reads `X-HashTwo`). */
  header?: string;
  /** Send `xkey-softpurge` (objects stay usable in grace while refetched) instead of `xkey-purge` (default false). */
  softPurge?: boolean;
  /** HTTP method of purge requests (default `PURGE`; it must match the VCL). */
  purgeMethod?: string;
  /** Response header where the VCL puts the count `xkey.purge()` returned (default `xkey-purged`). */
  purgedCountHeader?: string;
  /** Keys per purge request (default 100); requests also stay under 7000 bytes of keys, below Varnish's 8 KB header limit. */
  batchSize?: number;
  /** Replaces how the xkey header is built (default: space-separated, split past 8000 bytes, hash buckets past 16,000). */
  tagHeaderFormatter?: TagHeaderFormatter;
}

/** Varnish refuses request header lines over `http_req_hdr_len` (8 KB by default); keep a margin for the name. */
const MAX_PURGE_HEADER_BYTES = 7000;

/**
 * Varnish with the xkey vmod: tags responses with `xkey` (space-separated; several header fields
 * when long; past 16,000 bytes of keys, which varnishd's `http_resp_size` would turn into a 503, the
 * keys go as hash buckets and every purge also purges the buckets of its keys) and purges by sending `PURGE` with `xkey-purge: k1 k2` (or `xkey-softpurge`) to every
 * Varnish URL, which the VCL in `examples/cdn/varnish.vcl` turns into `xkey.purge()`. Resolves with
 * the number of objects the instances say they purged (the VCL's `xkey-purged` header); an instance
 * that does not say counts as the number of keys it was sent.
 *
 * @example
 * configureCachePage({
 *   defaultBackend: "site",
 *   backends: {
 *     local: { backend: "keyv" },
 *     varnish: { backend: "varnish", options: { urls: ["http://127.0.0.1:6081/"] } },
 *     site: { backend: "composite", options: { backends: ["local", "varnish"] } },
 *   },
 * });
 */
export class VarnishBackend extends CdnBackendBase {
  readonly urls: string[];
  readonly softPurge: boolean;

  /** The rules of its options, checked by its constructor and by `configureCachePage`. */
  static readonly optionsSchema = VarnishBackendOptionsSchema;

  constructor(options: VarnishBackendOptions) {
    validateOptions("VarnishBackend", VarnishBackendOptionsSchema, options);
    const urls = [...options.urls];
    const header = options.header ?? "xkey";
    const method = options.purgeMethod ?? "PURGE";
    const softPurge = options.softPurge ?? false;
    const countHeader = (options.purgedCountHeader ?? "xkey-purged").toLowerCase();
    const client = (soft: boolean) =>
      new PurgeClient(varnishPurgeTransport(urls, method, soft, countHeader), {
        ...pickRetryOptions(options),
        batchSize: options.batchSize ?? 100,
        maxBatchBytes: MAX_PURGE_HEADER_BYTES,
      });
    super(
      options as unknown as Record<string, unknown>,
      options.tagHeaderFormatter ?? new CdnTagHeaderFormatter(varnishTagHeader(header)),
      client(softPurge),
      client(true),
    );
    this.urls = urls;
    this.softPurge = softPurge;
  }
}

function varnishPurgeTransport(urls: string[], method: string, softPurge: boolean, countHeader: string): PurgeTransport {
  const keysHeader = softPurge ? "xkey-softpurge" : "xkey-purge";
  return {
    cdn: "Varnish",
    requestsFor: (keys): PurgeRequest[] => urls.map((url) => ({ url, method, headers: { [keysHeader]: keys.join(" ") } })),
    readResponse: async (response, keys) => {
      await response.arrayBuffer();
      const said = response.headers.get(countHeader);
      // Without a count from the VCL, each key asked for counts once (hash bucket keys are not the caller's).
      return said !== null && /^\d+$/.test(said.trim()) ? Number(said.trim()) : keys.filter((k) => !isHashBucketKey(k)).length;
    },
    hintFor: (status) => {
      if (status === 403) return `the VCL refuses ${method} from this machine: add its address to the "purgers" ACL`;
      if (status === 400) return `the VCL did not find the ${keysHeader} header: use the VCL of examples/cdn/varnish.vcl`;
      if (status === 405 || status === 501) return `the VCL does not handle ${method} requests: use the VCL of examples/cdn/varnish.vcl`;
      return undefined;
    },
  };
}
