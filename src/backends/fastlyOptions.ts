import { IsBoolean, IsDefined, IsInt, IsNotEmpty, IsOptional, IsString, IsUrl, Max, Min } from "class-validator";
import { HTTP_URL_RULES } from "../config/optionRules";
import { CdnBackendOptionsSchema } from "./cdn/purgeOptions";

/**
 * Fastly's batch purge takes at most this many surrogate keys per request.
 *
 * @example
 * new FastlyBackend({ apiToken, serviceId, batchSize: FASTLY_MAX_KEYS_PER_PURGE });
 */
export const FASTLY_MAX_KEYS_PER_PURGE = 256;

/**
 * The options of {@link FastlyBackend}: what its constructor and `configureCachePage` both check.
 *
 * @example
 * { backend: "fastly", options: { apiToken: process.env.FASTLY_API_TOKEN, serviceId: "SU1Z0isxPaozGVKXdv0eY" } }
 */
export class FastlyBackendOptionsSchema extends CdnBackendOptionsSchema {
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
  @IsUrl(HTTP_URL_RULES, { message: "endpoint must be an http:// or https:// URL, e.g. https://api.fastly.com" })
  endpoint?: string;

  @IsOptional()
  @IsInt({ message: "batchSize must be a whole number of keys" })
  @Min(1, { message: "batchSize must be at least 1" })
  @Max(FASTLY_MAX_KEYS_PER_PURGE, { message: `batchSize must be at most ${FASTLY_MAX_KEYS_PER_PURGE}, Fastly's limit per purge request` })
  batchSize?: number;
}
