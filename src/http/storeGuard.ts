import type { BaseCacheBackend } from "../backends/base";
import { getHttpSettings } from "../config/configure";
import { isStoreDataError } from "../stores/storeHealth";
import { performance } from "node:perf_hooks";
import { backendLabel } from "../telemetry/backendNames";
import { storeChannel, type CachePageStoreEvent } from "../telemetry/events";

/** The store did not answer within `storeTimeoutMs`. */
export class StoreTimeoutError extends Error {
  constructor(operation: string, ms: number) {
    super(`${operation} took longer than ${ms} ms (storeTimeoutMs)`);
    this.name = "StoreTimeoutError";
  }
}

/** The circuit breaker is open: the store is skipped during its cool-down. */
export class CircuitOpenError extends Error {
  constructor() {
    super("the store failed repeatedly; it is skipped during the circuit breaker's cool-down");
    this.name = "CircuitOpenError";
  }
}

interface Circuit {
  failures: number;
  openUntil: number;
  probing: boolean;
}

const circuits = new WeakMap<BaseCacheBackend, Circuit>();

function circuitOf(backend: BaseCacheBackend): Circuit {
  let circuit = circuits.get(backend);
  if (!circuit) circuits.set(backend, (circuit = { failures: 0, openUntil: 0, probing: false }));
  return circuit;
}

/** True while the circuit breaker skips this backend. */
export function isCircuitOpen(backend: BaseCacheBackend): boolean {
  const circuit = circuits.get(backend);
  return circuit !== undefined && circuit.openUntil !== 0 && getHttpSettings().circuitBreaker !== undefined;
}

/**
 * Runs a store call on the request path with a timeout and behind a circuit breaker: after
 * `failureThreshold` failures in a row the store is skipped for `cooldownMs`, then one request
 * probes it; a success closes the circuit again. Rejects with the store's error, a
 * {@link StoreTimeoutError} or a {@link CircuitOpenError}: the caller then runs uncached.
 */
export async function guardedStoreCall<T>(backend: BaseCacheBackend, operation: string, call: () => Promise<T>): Promise<T> {
  if (!storeChannel.hasSubscribers) return guarded(backend, operation, call);
  const started = performance.now();
  try {
    const result = await guarded(backend, operation, call);
    storeChannel.publish({ backend: backendLabel(backend), operation, durationMs: performance.now() - started } satisfies CachePageStoreEvent);
    return result;
  } catch (error) {
    storeChannel.publish({ backend: backendLabel(backend), operation, durationMs: performance.now() - started, error } satisfies CachePageStoreEvent);
    throw error;
  }
}

async function guarded<T>(backend: BaseCacheBackend, operation: string, call: () => Promise<T>): Promise<T> {
  const { storeTimeoutMs, circuitBreaker } = getHttpSettings();
  const circuit = circuitOf(backend);
  const now = Date.now();
  if (circuitBreaker && circuit.openUntil > now) throw new CircuitOpenError();
  if (circuitBreaker && circuit.openUntil !== 0) {
    // Cool-down over: one request probes, the others keep skipping until it answers.
    if (circuit.probing) throw new CircuitOpenError();
    circuit.probing = true;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      call(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StoreTimeoutError(operation, storeTimeoutMs)), storeTimeoutMs);
      }),
    ]);
    circuit.failures = 0;
    circuit.openUntil = 0;
    return result;
  } catch (error) {
    if (!isHealthFailureOf(backend, error)) {
      // The store answered (it refused this request's data): it is healthy, the breaker stays as it is.
      if (circuit.openUntil !== 0 && circuit.probing) circuit.openUntil = 0;
      circuit.failures = 0;
      throw error;
    }
    circuit.failures += 1;
    if (circuitBreaker && (circuit.openUntil !== 0 || circuit.failures >= circuitBreaker.failureThreshold)) {
      circuit.openUntil = Date.now() + circuitBreaker.cooldownMs;
    }
    throw error;
  } finally {
    clearTimeout(timer);
    circuit.probing = false;
  }
}

/**
 * Whether a failed store call counts against the breaker: only store-health failures
 * (unreachable, lost connection, timeouts), never one request's data. A backend that knows its
 * store classifies its errors (`isStoreHealthFailure(error)`: KeyvCacheBackend asks its store
 * driver); for any other backend every error counts except those positively about data.
 */
function isHealthFailureOf(backend: BaseCacheBackend, error: unknown): boolean {
  if (error instanceof StoreTimeoutError) return true;
  const classify = (backend as { isStoreHealthFailure?: (error: unknown) => boolean }).isStoreHealthFailure;
  return typeof classify === "function" ? classify.call(backend, error) : !isStoreDataError(error);
}
