import type { CachePlan, Reply } from "./pageCache";

const PLAN = Symbol.for("custom-cache-page.plan");

/** Where the plan of a request lives between our middleware and the action wrapper. */
export interface PlanSlot {
  plan: CachePlan;
  /** The wrapper answers the hit after routing-controllers' checks (guarded actions). */
  lateLookup: boolean;
  /** A hit was sent; nothing else to do. */
  served?: boolean;
  /** The hit that was sent (Koa re-applies it after interceptors ran). */
  reply?: Reply;
}

/** Attaches the slot to a native request object. */
export function attachPlan(native: object, slot: PlanSlot): void {
  (native as Record<symbol, PlanSlot>)[PLAN] = slot;
}

/** The slot attached to a native request object, if any. */
export function planOf(native: unknown): PlanSlot | undefined {
  return native && typeof native === "object" ? (native as Record<symbol, PlanSlot | undefined>)[PLAN] : undefined;
}
