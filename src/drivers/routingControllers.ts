/**
 * Everything that depends on routing-controllers beyond its public decorators lives here.
 * Checked against routing-controllers 0.11.3 (ExpressDriver / KoaDriver, ActionParameterHandler).
 *
 * - The drivers' `registerAction` is wrapped to learn which driver serves which app: the cache's
 *   middleware then finds the app's `currentUserChecker` from `req.app` / `ctx.app`.
 * - A hidden parameter (type "custom-converter", far after any real parameter) hands the action
 *   wrapper routing-controllers' `Action`, after authorization and parameter checks ran.
 */
import { ExpressDriver, getMetadataArgsStorage, KoaDriver, type Action } from "routing-controllers";

interface DriverLike {
  app?: unknown;
  currentUserChecker?: (action: Action) => unknown;
}

const driversByApp = new WeakMap<object, DriverLike>();
const WRAPPED = Symbol.for("custom-cache-page.register-action-wrapped");

function learnDrivers(driverClass: { prototype: unknown }): void {
  const proto = driverClass.prototype as Record<string | symbol, unknown>;
  if (proto[WRAPPED]) return;
  const original = proto.registerAction as (this: DriverLike, ...args: unknown[]) => unknown;
  proto.registerAction = function registerAction(this: DriverLike, ...args: unknown[]): unknown {
    // An Express app is a function, a Koa app an object.
    if (this.app && (typeof this.app === "object" || typeof this.app === "function")) driversByApp.set(this.app as object, this);
    return original.apply(this, args);
  };
  proto[WRAPPED] = true;
}

learnDrivers(ExpressDriver);
learnDrivers(KoaDriver);

/** The `currentUserChecker` of the routing-controllers app `app` (Express `req.app`, Koa `ctx.app`), if it has one. */
export function currentUserCheckerOf(app: unknown): ((action: Action) => unknown) | undefined {
  if (!app || (typeof app !== "object" && typeof app !== "function")) return undefined;
  return driversByApp.get(app as object)?.currentUserChecker;
}

/** Index of our hidden parameter: after any parameter a real action declares. */
const HIDDEN_PARAM_INDEX = 10_000;
const ACTION_MARK = Symbol.for("custom-cache-page.action");

/** What the hidden parameter hands the wrapper. */
export interface MarkedAction {
  [ACTION_MARK]: true;
  action: { request: object; response: object; context?: object };
}

/** True for the value of the hidden parameter. */
export function isMarkedAction(value: unknown): value is MarkedAction {
  return !!value && typeof value === "object" && (value as MarkedAction)[ACTION_MARK] === true;
}

/** Registers the hidden parameter on `prototype.method`. */
export function addHiddenActionParameter(prototype: object, method: string): void {
  getMetadataArgsStorage().params.push({
    type: "custom-converter",
    object: prototype,
    method,
    index: HIDDEN_PARAM_INDEX,
    parse: false,
    required: false,
    transform: (action: MarkedAction["action"]) => ({ [ACTION_MARK]: true, action }),
  } as never);
}
