import type { ActionCacheSettings } from "../http/pageCache";
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
  };
  return record.settings;
}
