import { validateOptions } from "../config/validateOptions";
import { CdnBackendBase } from "./cdn/cdnBackendBase";
import { pickRetryOptions, PurgeClient, type PurgeRequest, type PurgeRetryOptions, type PurgeTransport } from "./cdn/purgeClient";
import { CdnTagHeaderFormatter, FASTLY_TAG_HEADER, type TagHeaderFormatter } from "./cdn/tagHeaderFormatter";
import { FASTLY_MAX_KEYS_PER_PURGE, FastlyBackendOptionsSchema } from "./fastlyOptions";

export { FASTLY_MAX_KEYS_PER_PURGE } from "./fastlyOptions";

/**
 * Options of {@link FastlyBackend}.
 *
 * @example
 * const options: FastlyBackendOptions = { apiToken: process.env.FASTLY_API_TOKEN!, serviceId: "SU1Z0isxPaozGVKXdv0eY" };
 */
export interface FastlyBackendOptions extends PurgeRetryOptions {
  /** A Fastly API token with the `purge_select` scope on the service. */
  apiToken: string;
  /** The service whose cache is purged. */
  serviceId: string;
  /** Mark content stale instead of removing it, so Fastly can serve it while revalidating (default true). */
  softPurge?: boolean;
  /** The API base URL (default `https://api.fastly.com`). */
  endpoint?: string;
  /** Keys per purge request, at most 256 (default 256). */
  batchSize?: number;
  /** Replaces how the Surrogate-Key header is built (default: Fastly's limits). */
  tagHeaderFormatter?: TagHeaderFormatter;
}

/**
 * Fastly: tags responses with `Surrogate-Key` (space-separated; several header fields past 16 KB,
 * keys over 1024 bytes hashed) and purges them with the batch API,
 * `POST {endpoint}/service/{serviceId}/purge` `{"surrogate_keys": [...]}`, 256 keys a request, soft
 * by default. Resolves with the number of keys purged. Fastly strips `Surrogate-Key` before it
 * reaches browsers.
 *
 * @example
 * configureCachePage({
 *   defaultBackend: "site",
 *   backends: {
 *     local: { backend: "keyv" },
 *     fastly: { backend: "fastly", options: { apiToken: process.env.FASTLY_API_TOKEN, serviceId: "SU1Z0isxPaozGVKXdv0eY" } },
 *     site: { backend: "composite", options: { backends: ["local", "fastly"] } },
 *   },
 * });
 */
export class FastlyBackend extends CdnBackendBase {
  readonly endpoint: string;
  readonly serviceId: string;
  readonly softPurge: boolean;

  /** The rules of its options, checked by its constructor and by `configureCachePage`. */
  static readonly optionsSchema = FastlyBackendOptionsSchema;

  constructor(options: FastlyBackendOptions) {
    validateOptions("FastlyBackend", FastlyBackendOptionsSchema, options);
    const { apiToken, serviceId } = options;
    const endpoint = (options.endpoint ?? "https://api.fastly.com").replace(/\/+$/, "");
    const batchSize = options.batchSize ?? FASTLY_MAX_KEYS_PER_PURGE;
    const softPurge = options.softPurge ?? true;
    const purgeUrl = `${endpoint}/service/${encodeURIComponent(serviceId)}/purge`;
    const client = (soft: boolean) => new PurgeClient(fastlyPurgeTransport(purgeUrl, apiToken, soft), { ...pickRetryOptions(options), batchSize });
    super(
      options as unknown as Record<string, unknown>,
      options.tagHeaderFormatter ?? new CdnTagHeaderFormatter(FASTLY_TAG_HEADER),
      client(softPurge),
      client(true),
    );
    this.endpoint = endpoint;
    this.serviceId = serviceId;
    this.softPurge = softPurge;
  }
}

function fastlyPurgeTransport(url: string, apiToken: string, softPurge: boolean): PurgeTransport {
  return {
    cdn: "Fastly",
    requestsFor: (keys): PurgeRequest[] => [
      {
        url,
        method: "POST",
        headers: {
          "fastly-key": apiToken,
          "content-type": "application/json",
          accept: "application/json",
          ...(softPurge ? { "fastly-soft-purge": "1" } : {}),
        },
        body: JSON.stringify({ surrogate_keys: keys }),
      },
    ],
    // Fastly answers { "<key>": "<purge id>", ... }; a 2xx means every key of the batch was purged.
    readResponse: async (response, keys) => {
      await response.arrayBuffer();
      return keys.length;
    },
    hintFor: (status) =>
      status === 401 || status === 403
        ? "check apiToken: it must be a valid Fastly API token with purge_select scope on this service"
        : status === 404
          ? "check serviceId and endpoint"
          : undefined,
  };
}
