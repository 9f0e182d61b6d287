import { ArrayNotEmpty, IsArray, IsDefined, IsInt, IsOptional, IsString, Matches, Min, ValidateBy, type ValidationOptions } from "class-validator";
import { storeKindOfUrl } from "../backends/openKeyvStores";

/**
 * The longest delay a Node.js timer can hold (2^31 - 1 ms, about 24.8 days); a longer one fires
 * after 1 ms instead, so every option that becomes a timer is refused above it.
 *
 * @example
 * configureCachePage({ storeTimeoutMs: MAX_TIMER_MS + 1 }); // CachePageConfigError at storeTimeoutMs
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Whole milliseconds from `min` up to what a timer can hold. */
export function isTimerMs(value: unknown, min = 1): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= MAX_TIMER_MS;
}

/** A plain object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Milliseconds a timer can hold: a whole number from `min` to 2^31 - 1.
 *
 * @example
 * class Schema { @IsTimerMs("storeTimeoutMs") storeTimeoutMs?: number; }
 */
export function IsTimerMs(name: string, min = 1, validationOptions?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: "isTimerMs",
      validator: {
        validate: (value: unknown) => isTimerMs(value, min),
        defaultMessage: () =>
          `${name} must be a whole number of milliseconds from ${min} to ${MAX_TIMER_MS} (2^31 - 1, the longest a timer can wait; ` +
          `a larger value would fire after 1 ms)`,
      },
    },
    validationOptions,
  );
}

/**
 * A plain object: class-validator's IsObject, with a message that says an array is not one.
 *
 * @example
 * class Schema { @IsPlainObject("options must be an object") options?: object; }
 */
export function IsPlainObject(message: string, validationOptions?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: "isPlainObject",
      validator: {
        validate: (value: unknown) => isPlainObject(value),
        defaultMessage: (args) => `${message} (got ${Array.isArray(args?.value) ? "an array" : args?.value === null ? "null" : typeof args?.value})`,
      },
    },
    validationOptions,
  );
}

/** The top level of `configureCachePage(...)`. */
export class CachePageConfigSchema {
  @IsOptional()
  @IsString({ message: "defaultBackend must be the name of a configured backend (a string)" })
  defaultBackend?: string;

  @IsOptional()
  @IsPlainObject('backends must be an object mapping names to { backend, options }, e.g. { main: { backend: "keyv" } }')
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
  @ValidateBy({
    name: "isDebugHeader",
    validator: {
      validate: (v: unknown) => {
        if (v === false) return true;
        if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
        const { token, header, ...rest } = v as Record<string, unknown>;
        const headerOk = header === undefined || (typeof header === "string" && /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(header));
        return typeof token === "string" && token.length >= 16 && /^[\x21-\x7e]+$/.test(token) && headerOk && Object.keys(rest).length === 0;
      },
      defaultMessage: () =>
        'debugHeader must be false or { token, header? }: a token of at least 16 printable ASCII characters (e.g. from crypto.randomBytes(24).toString("hex")) and an optional header name (default "X-Cache-Debug")',
    },
  })
  debugHeader?: false | { token: string; header?: string };

  @IsOptional()
  @IsInt({ message: "maxBodySize must be a whole number of bytes" })
  @Min(0, { message: "maxBodySize must be a whole number of bytes" })
  maxBodySize?: number;

  @IsOptional()
  @IsTimerMs("storeTimeoutMs")
  storeTimeoutMs?: number;

  @IsOptional()
  @ValidateBy({
    name: "isCircuitBreaker",
    validator: {
      validate: (v: unknown) => {
        if (v === false) return true;
        if (!isPlainObject(v)) return false;
        const { failureThreshold, cooldownMs, ...rest } = v;
        const positiveInt = (n: unknown) => n === undefined || (Number.isInteger(n) && (n as number) > 0 && (n as number) <= Number.MAX_SAFE_INTEGER);
        return Object.keys(rest).length === 0 && positiveInt(failureThreshold) && (cooldownMs === undefined || isTimerMs(cooldownMs));
      },
      defaultMessage: () =>
        `circuitBreaker must be false or { failureThreshold?: a positive whole number, cooldownMs?: whole milliseconds from 1 to ${MAX_TIMER_MS} }`,
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
  @IsPlainObject("options must be an object of the backend's options")
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
        validate: (value: unknown) => (typeof value === "string" && storeKindOfUrl(value) !== undefined) || isPlainObject(value),
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
  @IsPlainObject("surrogateIndex must be an instance of a BaseSurrogateIndex subclass")
  surrogateIndex?: unknown;

  @IsOptional()
  @IsInt({ message: "maxBytes must be a whole number of bytes" })
  @Min(1, { message: "maxBytes must be at least 1 byte" })
  maxBytes?: number;

  @IsOptional()
  @IsInt({ message: "maxTags must be a whole number of tags" })
  @Min(0, { message: "maxTags must be 0 or more" })
  maxTags?: number;

  @IsOptional()
  @IsTimerMs("storeTimeoutMs")
  storeTimeoutMs?: number;

  @IsOptional()
  @ValidateBy({
    name: "isLocalTier",
    validator: {
      // The two-tier option (SPEC §9) is validated by the class once it exists; until then say so.
      validate: () => false,
      defaultMessage: () =>
        "local (the two-tier option: a bounded in-process tier in front of a shared Redis store) is coming in the next release; " +
        "remove it for now and use the shared store alone",
    },
  })
  local?: unknown;

  @IsOptional()
  @ValidateBy({
    name: "isPruneOption",
    validator: {
      validate: (v: unknown) => {
        if (v === false) return true;
        if (!isPlainObject(v)) return false;
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
