import {
  ArrayNotEmpty,
  IsArray,
  IsDefined,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Min,
  ValidateBy,
  type ValidationOptions,
} from "class-validator";
import { storeKindOfUrl } from "../backends/openKeyvStores";

/** The top level of `configureCachePage(...)`. */
export class CachePageConfigSchema {
  @IsOptional()
  @IsString({ message: "defaultBackend must be the name of a configured backend (a string)" })
  defaultBackend?: string;

  @IsOptional()
  @IsObject({ message: "backends must be an object mapping names to { backend, options }" })
  backends?: Record<string, unknown>;

  @IsOptional()
  @ValidateBy({
    name: "isHeaderNameOrFalse",
    validator: {
      validate: (v: unknown) => v === false || (typeof v === "string" && /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(v)),
      defaultMessage: () => 'cacheStatusHeader must be a header name (e.g. "X-Cache") or false to switch it off',
    },
  })
  cacheStatusHeader?: string | false;

  @IsOptional()
  @IsInt({ message: "maxBodySize must be a whole number of bytes" })
  @Min(0, { message: "maxBodySize must be a whole number of bytes" })
  maxBodySize?: number;

  @IsOptional()
  @IsInt({ message: "storeTimeoutMs must be a whole number of milliseconds" })
  @Min(1, { message: "storeTimeoutMs must be at least 1 millisecond" })
  storeTimeoutMs?: number;

  @IsOptional()
  @ValidateBy({
    name: "isCircuitBreaker",
    validator: {
      validate: (v: unknown) => {
        if (v === false) return true;
        if (!v || typeof v !== "object") return false;
        const { failureThreshold, cooldownMs, ...rest } = v as Record<string, unknown>;
        const positiveInt = (n: unknown) => n === undefined || (Number.isInteger(n) && (n as number) > 0);
        return Object.keys(rest).length === 0 && positiveInt(failureThreshold) && positiveInt(cooldownMs);
      },
      defaultMessage: () => "circuitBreaker must be false or { failureThreshold?: positive integer, cooldownMs?: positive integer }",
    },
  })
  circuitBreaker?: false | { failureThreshold?: number; cooldownMs?: number };
}

/** One entry of `backends`. */
export class BackendEntrySchema {
  @IsDefined({ message: 'backend is required: a built-in name ("keyv", "composite", "fastly", "cloudflare", "varnish") or a class' })
  @IsBackendRef()
  backend!: unknown;

  @IsOptional()
  @IsObject({ message: "options must be an object" })
  options?: Record<string, unknown>;
}

function IsBackendRef(validationOptions?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: "isBackendRef",
      validator: {
        validate: (value: unknown) => (typeof value === "string" && value.length > 0) || typeof value === "function",
        defaultMessage: () => "backend must be a built-in backend name or a class extending BaseCacheBackend",
      },
    },
    validationOptions,
  );
}

function IsStoreSpec(validationOptions?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: "isStoreSpec",
      validator: {
        validate: (value: unknown) =>
          (typeof value === "string" && storeKindOfUrl(value) !== undefined) || (typeof value === "object" && value !== null),
        defaultMessage: () =>
          "store must be a URL starting with redis://, rediss://, sqlite://, postgres:// or postgresql://, a Keyv adapter or a Keyv instance",
      },
    },
    validationOptions,
  );
}

/** Options of the built-in `"keyv"` backend. */
export class KeyvBackendOptionsSchema {
  @IsOptional()
  @IsStoreSpec()
  store?: unknown;

  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_.-]+$/, { message: "namespace may hold letters, digits, '_', '.' and '-' only" })
  namespace?: string;

  @IsOptional()
  @IsObject({ message: "surrogateIndex must be an instance of a BaseSurrogateIndex subclass" })
  surrogateIndex?: unknown;

  @IsOptional()
  @ValidateBy({
    name: "isPruneOption",
    validator: {
      validate: (v: unknown) => {
        if (v === false) return true;
        if (!v || typeof v !== "object" || Array.isArray(v)) return false;
        const { every, batchSize, ...rest } = v as Record<string, unknown>;
        const int = (n: unknown, min: number) => n === undefined || (Number.isInteger(n) && (n as number) >= min);
        return Object.keys(rest).length === 0 && int(every, 0) && int(batchSize, 1);
      },
      defaultMessage: () => "prune must be false or { every?: whole number >= 0, batchSize?: whole number >= 1 }",
    },
  })
  prune?: unknown;
}

/** Options of the built-in `"composite"` backend. */
export class CompositeBackendOptionsSchema {
  @IsDefined({ message: 'backends is required: the names of the configured backends to combine, e.g. ["keyv", "fastly"]' })
  @IsArray({ message: "backends must be an array of backend names" })
  @ArrayNotEmpty({ message: "backends must name at least one backend" })
  @IsString({ each: true, message: "each entry of backends must be the name of a configured backend" })
  backends!: string[];
}
