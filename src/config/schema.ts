import { IsDefined, IsInt, IsOptional, IsString, Min, ValidateBy, type ValidationOptions } from "class-validator";
import { IsPlainObject, IsTimerMs, isPlainObject, isTimerMs, MAX_TIMER_MS } from "./optionRules";

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
