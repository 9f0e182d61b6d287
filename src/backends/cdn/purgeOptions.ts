import { IsDefined, IsInt, IsObject, IsOptional, IsPositive, Min } from "class-validator";
import { FitsTimer, IsFunction } from "../../config/optionRules";

/**
 * The retry and time limits of a purge ({@link PurgeRetryOptions}), as class-validator rules: what
 * a {@link PurgeClient} and every CDN backend check, in their constructors and in `configureCachePage`.
 *
 * @example
 * { backend: "fastly", options: { apiToken, serviceId, timeoutMs: 5000, maxRetries: 3 } }
 */
export class PurgeRetryOptionsSchema {
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
  @IsObject({ message: "clock must be an object { now(), sleep(ms) }" })
  clock?: unknown;

  @IsOptional()
  @IsFunction("random must be a function returning a number in [0, 1), like Math.random")
  random?: unknown;
}

/**
 * The options of {@link PurgeClient}: the retry limits and how requests are batched.
 *
 * @example
 * new PurgeClient(transport, { batchSize: 100, maxBatchBytes: 7000 });
 */
export class PurgeClientOptionsSchema extends PurgeRetryOptionsSchema {
  @IsDefined({ message: "batchSize is required: the most keys one purge request may carry" })
  @IsInt({ message: "batchSize must be a whole number of keys" })
  @Min(1, { message: "batchSize must be at least 1" })
  batchSize!: number;

  @IsOptional()
  @IsPositive({ message: "maxBatchBytes must be a positive number of bytes" })
  maxBatchBytes?: number;

  @IsOptional()
  @IsFunction("keyIdentity must be a function (key) => string")
  keyIdentity?: unknown;
}

/**
 * What every CDN backend accepts besides its own options: the retry limits and its tag header formatter.
 *
 * @example
 * class MyCdnOptionsSchema extends CdnBackendOptionsSchema { @IsString() apiKey!: string; }
 */
export class CdnBackendOptionsSchema extends PurgeRetryOptionsSchema {
  @IsOptional()
  @IsObject({ message: "tagHeaderFormatter must be an object implementing TagHeaderFormatter" })
  tagHeaderFormatter?: unknown;
}
