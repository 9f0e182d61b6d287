import { validateOptions } from "../config/validateOptions";
import { CdnBackendBase } from "./cdn/cdnBackendBase";
import { CdnRequestError, pickRetryOptions, PurgeClient, type PurgeRequest, type PurgeRetryOptions, type PurgeTransport } from "./cdn/purgeClient";
import { CdnTagHeaderFormatter, CLOUDFLARE_TAG_HEADER, type TagHeaderFormatter } from "./cdn/tagHeaderFormatter";
import { CLOUDFLARE_MAX_TAGS_PER_PURGE, CloudflareBackendOptionsSchema } from "./cloudflareOptions";

export { CLOUDFLARE_MAX_TAGS_PER_PURGE } from "./cloudflareOptions";

/**
 * Options of {@link CloudflareBackend}.
 *
 * @example
 * const options: CloudflareBackendOptions = { apiToken: process.env.CF_API_TOKEN!, zoneId: "023e105f4ecef8ad9ca31a8372d0c353" };
 */
export interface CloudflareBackendOptions extends PurgeRetryOptions {
  /** An API token with the Zone › Cache Purge permission (sent as `Authorization: Bearer`). */
  apiToken: string;
  /** The zone whose cache is purged. */
  zoneId: string;
  /** The API base URL (default `https://api.cloudflare.com/client/v4`). */
  endpoint?: string;
  /** Tags per purge call, at most 100 (default 100). */
  batchSize?: number;
  /** Replaces how the Cache-Tag header is built (default: Cloudflare's limits). */
  tagHeaderFormatter?: TagHeaderFormatter;
}

/** The shape of every Cloudflare API answer. */
interface CloudflareEnvelope {
  success?: boolean;
  errors?: Array<{ code?: number; message?: string }>;
}

/**
 * Cloudflare: tags responses with `Cache-Tag` (comma-separated, no spaces, case-insensitive) and
 * purges with `POST {endpoint}/zones/{zoneId}/purge_cache` `{"tags": [...]}`, 100 tags a call.
 * Cloudflare reads a single Cache-Tag header of at most 16 KB; a response whose tags do not fit is
 * sent with `Cache-Control: private` (Cloudflare does not cache it) and the logger says so. An answer
 * with `success: false` becomes an error naming Cloudflare's codes and messages. Resolves with the
 * number of tags purged.
 *
 * @example
 * const cdn = new CloudflareBackend({ apiToken: process.env.CF_API_TOKEN!, zoneId: "023e105f4ecef8ad9ca31a8372d0c353" });
 * const site = new CompositeBackend({ backends: [new KeyvCacheBackend(), cdn] });
 */
export class CloudflareBackend extends CdnBackendBase {
  readonly endpoint: string;
  readonly zoneId: string;

  /** The rules of its options, checked by its constructor and by `configureCachePage`. */
  static readonly optionsSchema = CloudflareBackendOptionsSchema;

  constructor(options: CloudflareBackendOptions) {
    validateOptions("CloudflareBackend", CloudflareBackendOptionsSchema, options);
    const { apiToken, zoneId } = options;
    const endpoint = (options.endpoint ?? "https://api.cloudflare.com/client/v4").replace(/\/+$/, "");
    const batchSize = options.batchSize ?? CLOUDFLARE_MAX_TAGS_PER_PURGE;
    const transport = cloudflarePurgeTransport(`${endpoint}/zones/${encodeURIComponent(zoneId)}/purge_cache`, apiToken);
    super(
      options as unknown as Record<string, unknown>,
      options.tagHeaderFormatter ?? new CdnTagHeaderFormatter(CLOUDFLARE_TAG_HEADER),
      // Cloudflare matches tags ignoring case: "Products" and "products" are one purge.
      new PurgeClient(transport, { ...pickRetryOptions(options), batchSize, keyIdentity: (k) => k.toLowerCase() }),
    );
    this.endpoint = endpoint;
    this.zoneId = zoneId;
  }
}

/**
 * The codes and messages of a Cloudflare answer, e.g. `1134 "Invalid tag"; 10000 "Authentication error"`.
 *
 * @example
 * describeCloudflareErrors({ success: false, errors: [{ code: 10000, message: "Authentication error" }] }) // '10000 "Authentication error"'
 */
export function describeCloudflareErrors(envelope: unknown): string {
  const errors = (envelope as CloudflareEnvelope | undefined)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return "no error details";
  return errors.map((e) => `${e?.code ?? "?"} ${JSON.stringify(e?.message ?? "")}`).join("; ");
}

function parseEnvelope(text: string): CloudflareEnvelope | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" ? (value as CloudflareEnvelope) : undefined;
  } catch {
    return undefined;
  }
}

function cloudflarePurgeTransport(url: string, apiToken: string): PurgeTransport {
  const authHint = "check apiToken: it must be a Cloudflare API token with the Zone > Cache Purge permission for this zone";
  return {
    cdn: "Cloudflare",
    requestsFor: (tags): PurgeRequest[] => [
      {
        url,
        method: "POST",
        headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ tags }),
      },
    ],
    readResponse: async (response, tags, request) => {
      const text = await response.text();
      const envelope = parseEnvelope(text);
      if (envelope?.success !== true) {
        throw new CdnRequestError(
          `Cloudflare refused the purge of ${tags.length} tag(s) (HTTP ${response.status}, success: ${String(envelope?.success)}): ${envelope ? describeCloudflareErrors(envelope) : `unreadable answer ${JSON.stringify(text.slice(0, 200))}`}`,
          { url: request.url, status: response.status, retryable: false, body: text.slice(0, 500) },
        );
      }
      return tags.length;
    },
    hintFor: (status, body) => {
      const envelope = parseEnvelope(body);
      const codes = envelope ? `Cloudflare errors: ${describeCloudflareErrors(envelope)}` : undefined;
      const hint = status === 401 || status === 403 ? authHint : status === 404 ? "check zoneId and endpoint" : undefined;
      return [codes, hint].filter(Boolean).join("; ") || undefined;
    },
  };
}
