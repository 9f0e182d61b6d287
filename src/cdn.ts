/**
 * `custom-cache-page/cdn`: the building blocks of the CDN backends, for writing a backend of your
 * own CDN or proxy (a tag header formatter, a purge client with batching, retries and timeouts) and
 * the limits the built-in ones enforce. The backends themselves (`FastlyBackend`,
 * `CloudflareBackend`, `VarnishBackend`) are exported from the package root.
 *
 * @example
 * import { CdnBackendBase, CdnTagHeaderFormatter, FASTLY_TAG_HEADER, PurgeClient } from "custom-cache-page/cdn";
 */
export { CdnBackendBase } from "./backends/cdn/cdnBackendBase";
export {
  CdnPurgeError,
  CdnRequestError,
  PurgeClient,
  type PurgeClientOptions,
  type PurgeRetryOptions,
  type PurgeTransport,
  type PurgeRequest,
  type PurgeFailure,
  type PurgeClock,
} from "./backends/cdn/purgeClient";
export {
  CdnTagHeaderFormatter,
  FASTLY_TAG_HEADER,
  CLOUDFLARE_TAG_HEADER,
  varnishTagHeader,
  type TagHeaderFormatter,
  type TagHeaderRules,
} from "./backends/cdn/tagHeaderFormatter";
export { FASTLY_MAX_KEYS_PER_PURGE } from "./backends/fastly";
export { CLOUDFLARE_MAX_TAGS_PER_PURGE, describeCloudflareErrors } from "./backends/cloudflare";
