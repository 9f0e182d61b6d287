import {
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
  IsDefined,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsPositive,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  ValidateBy,
} from "class-validator";
import { MAX_TIMER_MS } from "./schema";

/** A number of ms no larger than a timer holds (other types are left to the other rules). */
function FitsTimer(name: string): PropertyDecorator {
  return ValidateBy({
    name: "fitsTimer",
    validator: {
      validate: (value: unknown) => typeof value !== "number" || value <= MAX_TIMER_MS,
      defaultMessage: () => `${name} must be at most ${MAX_TIMER_MS} ms (2^31 - 1, the longest a timer can wait; a larger value would fire after 1 ms)`,
    },
  });
}

// Loopback and intranet hosts have no TLD; the scheme must be explicit so "api.fastly.com" is not taken for a path.
const URL_RULES = { require_tld: false, require_protocol: true, protocols: ["http", "https"] };
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Retry and time limits every CDN backend accepts (see `PurgeRetryOptions`).
 *
 * @example
 * { backend: "fastly", options: { apiToken, serviceId, timeoutMs: 5000, maxRetries: 3 } }
 */
export class CdnPurgeOptionsSchema {
  @IsOptional()
  @IsPositive({ message: "timeoutMs must be a positive number of milliseconds" })
  @FitsTimer("timeoutMs")
  timeoutMs?: number;

  @IsOptional()
  @IsInt({ message: "concurrency must be a whole number of requests" })
  @IsPositive({ message: "concurrency must be at least 1" })
  concurrency?: number;

  @IsOptional()
  @IsInt({ message: "maxRetries must be a whole number" })
  @Min(0, { message: "maxRetries must be 0 or more" })
  maxRetries?: number;

  @IsOptional()
  @IsPositive({ message: "retryBaseDelayMs must be a positive number of milliseconds" })
  @FitsTimer("retryBaseDelayMs")
  retryBaseDelayMs?: number;

  @IsOptional()
  @IsPositive({ message: "retryMaxDelayMs must be a positive number of milliseconds" })
  @FitsTimer("retryMaxDelayMs")
  retryMaxDelayMs?: number;

  @IsOptional()
  @IsPositive({ message: "retryBudgetMs must be a positive number of milliseconds" })
  @FitsTimer("retryBudgetMs")
  retryBudgetMs?: number;

  @IsOptional()
  @IsObject({ message: "tagHeaderFormatter must be an object implementing TagHeaderFormatter" })
  tagHeaderFormatter?: unknown;
}

/**
 * Options of the built-in `"fastly"` backend.
 *
 * @example
 * { backend: "fastly", options: { apiToken: process.env.FASTLY_API_TOKEN, serviceId: "SU1Z0isxPaozGVKXdv0eY" } }
 */
export class FastlyBackendOptionsSchema extends CdnPurgeOptionsSchema {
  @IsDefined({ message: "apiToken is required: a Fastly API token with purge_select scope" })
  @IsString({ message: "apiToken must be a string" })
  @IsNotEmpty({ message: "apiToken must not be empty" })
  apiToken!: string;

  @IsDefined({ message: "serviceId is required: the ID of the Fastly service to purge" })
  @IsString({ message: "serviceId must be a string" })
  @IsNotEmpty({ message: "serviceId must not be empty" })
  serviceId!: string;

  @IsOptional()
  @IsBoolean({ message: "softPurge must be true or false" })
  softPurge?: boolean;

  @IsOptional()
  @IsUrl(URL_RULES, { message: "endpoint must be an http:// or https:// URL, e.g. https://api.fastly.com" })
  endpoint?: string;

  @IsOptional()
  @IsInt({ message: "batchSize must be a whole number of keys" })
  @Min(1, { message: "batchSize must be at least 1" })
  @Max(256, { message: "batchSize must be at most 256, Fastly's limit per purge request" })
  batchSize?: number;
}

/**
 * Options of the built-in `"cloudflare"` backend.
 *
 * @example
 * { backend: "cloudflare", options: { apiToken: process.env.CF_API_TOKEN, zoneId: "023e105f4ecef8ad9ca31a8372d0c353" } }
 */
export class CloudflareBackendOptionsSchema extends CdnPurgeOptionsSchema {
  @IsDefined({ message: "apiToken is required: a Cloudflare API token with the Cache Purge permission" })
  @IsString({ message: "apiToken must be a string" })
  @IsNotEmpty({ message: "apiToken must not be empty" })
  apiToken!: string;

  @IsDefined({ message: "zoneId is required: the ID of the Cloudflare zone to purge" })
  @IsString({ message: "zoneId must be a string" })
  @IsNotEmpty({ message: "zoneId must not be empty" })
  zoneId!: string;

  @IsOptional()
  @IsUrl(URL_RULES, { message: "endpoint must be an http:// or https:// URL, e.g. https://api.cloudflare.com/client/v4" })
  endpoint?: string;

  @IsOptional()
  @IsInt({ message: "batchSize must be a whole number of tags" })
  @Min(1, { message: "batchSize must be at least 1" })
  @Max(100, { message: "batchSize must be at most 100, Cloudflare's limit per purge call" })
  batchSize?: number;
}

/**
 * Options of the built-in `"varnish"` backend.
 *
 * @example
 * { backend: "varnish", options: { urls: ["http://127.0.0.1:6081/"], softPurge: true } }
 */
export class VarnishBackendOptionsSchema extends CdnPurgeOptionsSchema {
  @IsDefined({ message: 'urls is required: the URLs of your Varnish instances, e.g. ["http://127.0.0.1:6081/"]' })
  @IsArray({ message: "urls must be an array of URLs" })
  @ArrayNotEmpty({ message: "urls must name at least one Varnish instance" })
  @IsUrl(URL_RULES, { each: true, message: "each entry of urls must be an http:// or https:// URL, e.g. http://127.0.0.1:6081/" })
  urls!: string[];

  @IsOptional()
  @IsString({ message: "header must be a string" })
  @Matches(HTTP_TOKEN, { message: 'header must be an HTTP header name, e.g. "xkey"' })
  header?: string;

  @IsOptional()
  @IsBoolean({ message: "softPurge must be true or false" })
  softPurge?: boolean;

  @IsOptional()
  @IsString({ message: "purgeMethod must be a string" })
  @Matches(HTTP_TOKEN, { message: 'purgeMethod must be an HTTP method name, e.g. "PURGE"' })
  purgeMethod?: string;

  @IsOptional()
  @IsString({ message: "purgedCountHeader must be a string" })
  @Matches(HTTP_TOKEN, { message: 'purgedCountHeader must be an HTTP header name, e.g. "xkey-purged"' })
  purgedCountHeader?: string;

  @IsOptional()
  @IsInt({ message: "batchSize must be a whole number of keys" })
  @Min(1, { message: "batchSize must be at least 1" })
  batchSize?: number;
}
