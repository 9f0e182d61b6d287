import type { ServerResponse } from "node:http";
import { getMetadataArgsStorage, UseBefore } from "routing-controllers";
import { expressAroundAction, expressBeforeAction } from "../http/expressHandlers";
import type { ExpressLikeRequest } from "../http/express";
import { koaAroundAction, koaBeforeAction } from "../http/koaHandlers";
import type { KoaLikeContext } from "../http/koa";
import { isGuarded } from "./actionGuards";
import { settingsOf, type ActionRecord } from "./actionRegistry";

/** Index of our hidden parameter: after any parameter a real action declares. */
const HIDDEN_PARAM_INDEX = 10_000;
const ACTION_MARK = Symbol.for("custom-cache-page.action");

interface MarkedAction {
  [ACTION_MARK]: true;
  action: { request: object; response: object; context?: KoaLikeContext };
}

function isMarkedAction(value: unknown): value is MarkedAction {
  return !!value && typeof value === "object" && (value as MarkedAction)[ACTION_MARK] === true;
}

/**
 * Hooks an action in two places, both through routing-controllers' public metadata:
 * 1. a before-middleware (`UseBefore`) that serves hits of unguarded actions before any routing
 *    work and captures misses;
 * 2. a wrapper around the method, which receives routing-controllers' `Action` through a hidden
 *    parameter, so guarded actions are answered from the cache only after `@Authorized` and
 *    `@CurrentUser` checks ran.
 */
export function hookAction(prototype: object, method: string, descriptor: PropertyDescriptor, record: ActionRecord): void {
  const middleware = function customCachePage(a: unknown, b: unknown, c: unknown): unknown {
    const settings = settingsOf(record);
    const guarded = isGuarded(record);
    if (typeof c === "function") {
      return expressBeforeAction(settings, guarded, a as ExpressLikeRequest, b as ServerResponse, c as (e?: unknown) => void);
    }
    return koaBeforeAction(settings, guarded, a as KoaLikeContext, b as () => Promise<unknown>);
  };
  record.middleware = middleware;
  UseBefore(middleware)(prototype, method);

  getMetadataArgsStorage().params.push({
    type: "custom-converter",
    object: prototype,
    method,
    index: HIDDEN_PARAM_INDEX,
    parse: false,
    required: false,
    transform: (action: MarkedAction["action"]) => ({ [ACTION_MARK]: true, action }),
  } as never);

  const original = descriptor.value as (...args: unknown[]) => unknown;
  descriptor.value = function cachedAction(this: unknown, ...args: unknown[]): unknown {
    const last = args[args.length - 1];
    if (!isMarkedAction(last)) return original.apply(this, args);
    args.pop();
    const { action } = last;
    const run = () => original.apply(this, args);
    if (action.context) return koaAroundAction(action.context, run);
    return expressAroundAction(action.request, action.response as ServerResponse, run);
  };
  Object.defineProperty(descriptor.value, "name", { value: method });
  Object.defineProperty(descriptor.value, "length", { value: original.length });
}
