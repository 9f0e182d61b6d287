import { isURL, ValidateBy, type ValidationOptions } from "class-validator";

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

/** What a value is, for a message: "an array", "null", or its typeof. */
export function kindOf(value: unknown): string {
  return Array.isArray(value) ? "an array" : value === null ? "null" : typeof value;
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
 * A number of ms no larger than a timer holds (other types are left to the other rules).
 *
 * @example
 * class Schema { @IsPositive() @FitsTimer("timeoutMs") timeoutMs?: number; }
 */
export function FitsTimer(name: string): PropertyDecorator {
  return ValidateBy({
    name: "fitsTimer",
    validator: {
      validate: (value: unknown) => typeof value !== "number" || value <= MAX_TIMER_MS,
      defaultMessage: () => `${name} must be at most ${MAX_TIMER_MS} ms (2^31 - 1, the longest a timer can wait; a larger value would fire after 1 ms)`,
    },
  });
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
        defaultMessage: (args) => `${message} (got ${kindOf(args?.value)})`,
      },
    },
    validationOptions,
  );
}

/**
 * A function (a hook or a test seam such as `random`).
 *
 * @example
 * class Schema { @IsOptional() @IsFunction("keyIdentity must be a function (key) => string") keyIdentity?: unknown; }
 */
export function IsFunction(message: string): PropertyDecorator {
  return ValidateBy({ name: "isFunction", validator: { validate: (value: unknown) => typeof value === "function", defaultMessage: () => message } });
}

// Loopback and intranet hosts have no TLD; the scheme must be explicit so "api.fastly.com" is not taken for a path.
/** How an http(s) URL option is checked (class-validator's `IsUrl` options). */
export const HTTP_URL_RULES = { require_tld: false, require_protocol: true, protocols: ["http", "https"] };

/** An http(s) URL with its scheme, e.g. `https://api.fastly.com` or `http://127.0.0.1:6081/`. */
export function isHttpUrl(value: unknown): boolean {
  return typeof value === "string" && isURL(value, HTTP_URL_RULES);
}

/** An HTTP token (RFC 9110): what a header or method name may hold. */
export const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
