import { IsOptional, IsString, Matches, ValidateBy, type ValidationOptions } from "class-validator";
import { IsTimerMs, isPlainObject } from "../config/optionRules";
import { BaseSurrogateIndex } from "../indexes/base";
import { storeKindOfUrl } from "../stores/openStoreDriver";

function rule(name: string, validate: (value: unknown) => boolean, message: (value: unknown) => string, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name, validator: { validate, defaultMessage: (args) => message(args?.value) } }, options);
}

const isCount = (value: unknown, min: number) => Number.isSafeInteger(value) && (value as number) >= min;

/** What is wrong with a `prune` option, or undefined when it is right. */
function pruneProblem(value: unknown): string | undefined {
  if (value === false) return undefined;
  if (!isPlainObject(value)) return `prune must be false or { every?, batchSize? } (got ${Array.isArray(value) ? "an array" : String(value)})`;
  const { every, batchSize, ...rest } = value;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `prune takes only every and batchSize (unknown: ${unknown.join(", ")})`;
  if (every !== undefined && !isCount(every, 0)) {
    return `prune.every must be a whole number of stores (0 turns sampled pruning off; got ${String(every)})`;
  }
  if (batchSize !== undefined && !isCount(batchSize, 1)) return `prune.batchSize must be a whole number >= 1 (got ${String(batchSize)})`;
  return undefined;
}

/** Longest lease a local tier may take, ms (a minute: invalidations wait up to a lease for a partitioned instance). */
export const MAX_LEASE_MS = 60_000;
/** Shortest lease, ms: renewals go every third of it. */
export const MIN_LEASE_MS = 100;

/** What is wrong with a `local` option (the two tiers, SPEC §9), or undefined when it is right. */
function localProblem(value: unknown, store: unknown): string | undefined {
  if (!isPlainObject(value)) return `local must be { maxBytes?, leaseMs? } (got ${Array.isArray(value) ? "an array" : String(value)})`;
  const { maxBytes, leaseMs, ...rest } = value;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `local takes only maxBytes and leaseMs (unknown: ${unknown.join(", ")})`;
  if (maxBytes !== undefined && !isCount(maxBytes, 1))
    return `local.maxBytes must be a whole number of bytes, at least 1 (got ${String(maxBytes)}); e.g. 32 * 1024 * 1024`;
  if (leaseMs !== undefined && !(isCount(leaseMs, MIN_LEASE_MS) && (leaseMs as number) <= MAX_LEASE_MS)) {
    return `local.leaseMs must be a whole number of ms from ${MIN_LEASE_MS} to ${MAX_LEASE_MS} (got ${String(leaseMs)}); the default is 2000`;
  }
  if (store === undefined || (typeof store === "string" && storeKindOfUrl(store) !== "redis")) {
    return (
      "local (a bounded in-process tier in front of a shared store) needs a Redis or Redis Cluster store, which carries the leases and the invalidation log: " +
      'set store: "redis://…" or "redis+cluster://…" (without a shared store, the in-memory store alone is already local)'
    );
  }
  return undefined;
}

/**
 * The options of {@link KeyvCacheBackend}, as class-validator rules: what its constructor and
 * `configureCachePage({ backends: { x: { backend: "keyv", options } } })` both check.
 *
 * @example
 * optionProblems(KeyvCacheBackendOptionsSchema, { maxBytes: -1 }); // [{ path: "maxBytes", message: "maxBytes must be ..." }]
 */
export class KeyvCacheBackendOptionsSchema {
  @IsOptional()
  @rule(
    "isStoreSpec",
    (value) => (typeof value === "string" && storeKindOfUrl(value) !== undefined) || (typeof value === "object" && value !== null && !Array.isArray(value)),
    () =>
      "store must be a URL starting with redis://, rediss://, redis+cluster://, sqlite://, postgres:// or postgresql://, a Keyv adapter, a Keyv instance or a Map",
  )
  store?: unknown;

  @IsOptional()
  @IsString({ message: 'namespace must be a string, e.g. "shop"' })
  @Matches(/^[A-Za-z0-9_.-]+$/, { message: "namespace may hold letters, digits, '_', '.' and '-' only" })
  namespace?: string;

  @IsOptional()
  @rule(
    "isSurrogateIndex",
    (value) => value instanceof BaseSurrogateIndex,
    () => "surrogateIndex must be an instance of a BaseSurrogateIndex subclass (e.g. new RedisSurrogateIndex({ url }))",
  )
  surrogateIndex?: unknown;

  @IsOptional()
  @rule(
    "isMaxBytes",
    (value) => isCount(value, 1),
    (value) => `maxBytes must be a whole number of bytes, at least 1 (got ${String(value)}); e.g. 64 * 1024 * 1024`,
  )
  maxBytes?: number;

  @IsOptional()
  @rule(
    "isMaxTags",
    (value) => isCount(value, 0),
    (value) => `maxTags must be a whole number of tags, 0 or more (got ${String(value)})`,
  )
  maxTags?: number;

  @IsOptional()
  @IsTimerMs("storeTimeoutMs")
  storeTimeoutMs?: number;

  @IsOptional()
  @ValidateBy({
    name: "isLocalTier",
    validator: {
      validate: (value, args) => localProblem(value, (args?.object as { store?: unknown } | undefined)?.store) === undefined,
      defaultMessage: (args) => localProblem(args?.value, (args?.object as { store?: unknown } | undefined)?.store) ?? "",
    },
  })
  local?: unknown;

  @IsOptional()
  @rule(
    "isPruneOption",
    (value) => pruneProblem(value) === undefined,
    (value) => pruneProblem(value) ?? "",
  )
  prune?: unknown;
}
