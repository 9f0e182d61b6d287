import type { CachePlan } from "./cachePlan";
import type { Reply } from "./replies";

const SLOT = Symbol.for("custom-cache-page.request-slot");

/** What the cache keeps about one request between its middleware and the action wrapper. */
export interface RequestSlot {
  plan: CachePlan;
  /** The wrapper looks the request up after routing-controllers' checks (guarded actions); cleared once it did. */
  late: boolean;
  /** The cache answered; the driver sends nothing else. */
  answered: boolean;
  /** The reply that was sent (Koa puts it back after interceptors ran). */
  reply?: Reply;
}

/** Attaches the slot to a native request object (Express `req`, Koa `ctx`). */
export function attachSlot(native: object, slot: RequestSlot): void {
  (native as Record<symbol, RequestSlot>)[SLOT] = slot;
}

/** The slot attached to a native request object, if any. */
export function slotOf(native: unknown): RequestSlot | undefined {
  return native && typeof native === "object" ? (native as Record<symbol, RequestSlot | undefined>)[SLOT] : undefined;
}
