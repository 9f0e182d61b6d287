import type { Keyv } from "keyv";

/**
 * Whether a value is a Keyv instance, told by its shape rather than `instanceof Keyv`: an app can
 * hold a second copy of keyv (another major, or a nested install), and `instanceof` across two
 * copies is silently false, which would treat the Keyv as a bare store adapter.
 *
 * A Keyv has a `store` (its adapter) and `getRaw` (Keyv 5); a store adapter has neither
 * `store` nor `getRaw`.
 *
 * @example
 * const adapter = isKeyvInstance(store) ? store.store : store;
 */
export function isKeyvInstance(value: unknown): value is Keyv {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.store === "object" &&
    candidate.store !== null &&
    typeof candidate.get === "function" &&
    typeof candidate.set === "function" &&
    typeof candidate.delete === "function" &&
    typeof candidate.getRaw === "function"
  );
}
