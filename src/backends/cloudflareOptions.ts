import { IsDefined, IsInt, IsNotEmpty, IsOptional, IsString, IsUrl, Max, Min } from "class-validator";
import { HTTP_URL_RULES } from "../config/optionRules";
import { CdnBackendOptionsSchema } from "./cdn/purgeOptions";

/**
 * Cloudflare's purge API takes at most this many tags per call.
 *
 * @example
 * new CloudflareBackend({ apiToken, zoneId, batchSize: CLOUDFLARE_MAX_TAGS_PER_PURGE });
 */
export const CLOUDFLARE_MAX_TAGS_PER_PURGE = 100;

/**
 * The options of {@link CloudflareBackend}: what its constructor and `configureCachePage` both check.
 *
 * @example
 * { backend: "cloudflare", options: { apiToken: process.env.CF_API_TOKEN, zoneId: "023e105f4ecef8ad9ca31a8372d0c353" } }
 */
export class CloudflareBackendOptionsSchema extends CdnBackendOptionsSchema {
  @IsDefined({ message: "apiToken is required: a Cloudflare API token with the Cache Purge permission" })
  @IsString({ message: "apiToken must be a string" })
  @IsNotEmpty({ message: "apiToken must not be empty" })
  apiToken!: string;

  @IsDefined({ message: "zoneId is required: the ID of the Cloudflare zone to purge" })
  @IsString({ message: "zoneId must be a string" })
  @IsNotEmpty({ message: "zoneId must not be empty" })
  zoneId!: string;

  @IsOptional()
  @IsUrl(HTTP_URL_RULES, { message: "endpoint must be an http:// or https:// URL, e.g. https://api.cloudflare.com/client/v4" })
  endpoint?: string;

  @IsOptional()
  @IsInt({ message: "batchSize must be a whole number of tags" })
  @Min(1, { message: "batchSize must be at least 1" })
  @Max(CLOUDFLARE_MAX_TAGS_PER_PURGE, { message: `batchSize must be at most ${CLOUDFLARE_MAX_TAGS_PER_PURGE}, Cloudflare's limit per purge call` })
  batchSize?: number;
}
