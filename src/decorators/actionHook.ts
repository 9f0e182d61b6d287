import type { ServerResponse } from "node:http";
import { UseBefore } from "routing-controllers";
import { expressAroundAction, expressBeforeAction, type ExpressLikeRequest } from "../drivers/express";
import { koaAroundAction, koaBeforeAction, type KoaLikeContext } from "../drivers/koa";
import { addHiddenActionParameter, isMarkedAction } from "../drivers/routingControllers";
import { isGuarded } from "./actionGuards";
import { settingsOf, type ActionRecord } from "./actionRegistry";

/**
 * Hooks an action in two places, both through routing-controllers' metadata:
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
  addHiddenActionParameter(prototype, method);

  const original = descriptor.value as (...args: unknown[]) => unknown;
  descriptor.value = function cachedAction(this: unknown, ...args: unknown[]): unknown {
    const last = args[args.length - 1];
    if (!isMarkedAction(last)) return original.apply(this, args);
    args.pop();
    const { action } = last;
    const run = () => original.apply(this, args);
    if (action.context) return koaAroundAction(action.context as KoaLikeContext, run);
    return expressAroundAction(action.request as ExpressLikeRequest, action.response as ServerResponse, run);
  };
  Object.defineProperty(descriptor.value, "name", { value: method });
  Object.defineProperty(descriptor.value, "length", { value: original.length });
}
