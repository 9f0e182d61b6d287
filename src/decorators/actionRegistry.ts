import { getMetadataArgsStorage } from "routing-controllers";
import type { ActionCacheSettings } from "../engine/settings";
import type { TagSpec } from "../tags/resolveTags";
import type { ValidatedOptions } from "./validateOptions";

/** What the decorators recorded for one controller method. */
export interface ActionRecord {
  target: Function;
  method: string;
  where: string;
  options?: ValidatedOptions;
  /** From `@Tags(...)`, in the order they were written. */
  extraTags: TagSpec[];
  /** The middleware `@CachePage` registered (to find its place among the action's middlewares). */
  middleware?: Function;
  settings?: ActionCacheSettings;
  guarded?: boolean;
}

/** How long a request waits for another one computing the same key, unless `lock.wait` says otherwise. */
const DEFAULT_FLIGHT_WAIT_MS = 10_000;

const records = new Map<Function, Map<string, ActionRecord>>();

/** The record of `target.method`, created on first use. */
export function recordFor(target: Function, method: string): ActionRecord {
  let byMethod = records.get(target);
  if (!byMethod) records.set(target, (byMethod = new Map()));
  let record = byMethod.get(method);
  if (!record) byMethod.set(method, (record = { target, method, where: `${target.name}.${method}`, extraTags: [] }));
  return record;
}

/** Every record. */
export function allRecords(): ActionRecord[] {
  return [...records.values()].flatMap((m) => [...m.values()]);
}

/** The settings the http layer works with: options plus `@Tags`, built once. */
export function settingsOf(record: ActionRecord): ActionCacheSettings {
  if (record.settings) return record.settings;
  const o = record.options!;
  record.settings = {
    where: record.where,
    identity: actionIdentity(record),
    timeout: o.timeout,
    keyFunc: o.keyFunc,
    tags: [...o.tags, ...record.extraTags],
    prefix: o.prefix,
    backend: o.backend,
    onlyIf: o.onlyIf,
    statuses: o.statuses,
    cacheAuthorized: o.cacheAuthorized,
    staleWhileRevalidate: o.staleWhileRevalidate,
    staleIfError: o.staleIfError,
    flightWaitMs: o.lock?.wait ?? DEFAULT_FLIGHT_WAIT_MS,
    lock: o.lock,
    memory: { varyByKey: new Map(), readsUser: false },
  };
  return record.settings;
}

/** True when `a` is `b`, an ancestor or a descendant of it. */
export function related(a: Function, b: Function): boolean {
  return a === b || a.prototype instanceof b || b.prototype instanceof a;
}

/**
 * The action's method(s) and route(s) as routing-controllers registers them, e.g.
 * `GET /products/:id`: stable across processes that run the same code, and unique among the
 * actions of one app. Falls back to `Controller.method` when the metadata is not there.
 */
function actionIdentity(record: ActionRecord): string {
  const storage = getMetadataArgsStorage();
  const controller = storage.controllers.find((c) => related(c.target, record.target));
  const routes = storage.actions
    .filter((a) => related(a.target, record.target) && a.method === record.method)
    .map((a) => `${String(a.type).toUpperCase()} ${String(controller?.route ?? "")}${String(a.route ?? "")}`)
    .sort();
  return routes.length > 0 ? routes.join(" | ") : record.where;
}
