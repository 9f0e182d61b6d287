let lastFloor = 0;

/**
 * The clock in microseconds, strictly increasing within this process: the floor of every new
 * version, so a version created after its key expired or was evicted starts above any version
 * handed out before it.
 *
 * @example
 * const floor = versionFloor(); // e.g. 1764115200000000, then 1764115200000001 within the same ms
 */
export function versionFloor(): number {
  lastFloor = Math.max(Date.now() * 1000, lastFloor + 1);
  return lastFloor;
}

/**
 * A version that differs from `current` and from every version handed out before: time-based
 * (microseconds) and always above `current`.
 *
 * @example
 * nextVersion(0); // the clock in µs
 * nextVersion(Number.MAX_SAFE_INTEGER - 10); // current + 1
 */
export function nextVersion(current: number): number {
  return Math.max(current + 1, versionFloor());
}
