import type { BaseCacheBackend } from "../backends/base";

/** One computation of a key in progress in this process. */
export interface Flight {
  /** Resolves when the leader stored its response or gave up. */
  readonly done: Promise<void>;
  settle(): void;
}

const flightsByBackend = new WeakMap<BaseCacheBackend, Map<string, Flight>>();

function flightsOf(backend: BaseCacheBackend): Map<string, Flight> {
  let flights = flightsByBackend.get(backend);
  if (!flights) flightsByBackend.set(backend, (flights = new Map()));
  return flights;
}

/** The computation of `key` in progress, if any. */
export function currentFlight(backend: BaseCacheBackend, key: string): Flight | undefined {
  return flightsOf(backend).get(key);
}

/**
 * Registers this request as the one computing `key`; others wait for it instead of running the
 * action too (single-flight). `settle` is idempotent and removes the flight.
 */
export function startFlight(backend: BaseCacheBackend, key: string): Flight {
  const flights = flightsOf(backend);
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const flight: Flight = {
    done,
    settle: () => {
      if (flights.get(key) === flight) flights.delete(key);
      resolve();
    },
  };
  flights.set(key, flight);
  return flight;
}

/** Waits for a flight, at most `ms` milliseconds. */
export function waitFor(flight: Flight, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void flight.done.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
