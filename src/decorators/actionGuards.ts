import { getMetadataArgsStorage } from "routing-controllers";
import { assertBackendConfigured } from "../config/configure";
import { CachePageOptionsError } from "../config/errors";
import { allRecords, related, type ActionRecord } from "./actionRegistry";

const CACHEABLE_ACTION_TYPES = new Set(["get", "head", "all"]);

/**
 * True when a hit for this action must wait until routing-controllers has run its checks:
 * `@Authorized` (method or controller), a `@CurrentUser` parameter, or a middleware of the
 * user's that runs after ours. Such actions are answered from the cache after those checks,
 * the others straight from our middleware (the fast path).
 */
export function isGuarded(record: ActionRecord): boolean {
  if (record.guarded !== undefined) return record.guarded;
  const storage = getMetadataArgsStorage();
  const authorized = storage.responseHandlers.some(
    (h) => h.type === "authorized" && related(h.target, record.target) && (h.method === undefined || h.method === record.method),
  );
  const currentUser = storage.params.some((p) => p.type === "current-user" && related(p.object.constructor, record.target) && p.method === record.method);
  const uses = storage.uses.filter((u) => !u.afterAction && related(u.target, record.target) && u.method === record.method);
  const ours = uses.findIndex((u) => u.middleware === record.middleware);
  const laterMiddleware = uses.some((u, i) => i > ours && u.middleware !== record.middleware);
  record.guarded = authorized || currentUser || laterMiddleware;
  return record.guarded;
}

const checked = new WeakSet<Function>();

/**
 * Arranges the start-up check of a controller class: routing-controllers reads controller-level
 * response handlers when it builds a controller (createExpressServer, useKoaServer ...), which is
 * after every decorator ran; an entry of our own type is read then and otherwise ignored.
 */
export function scheduleStartupCheck(target: Function): void {
  if (checked.has(target)) return;
  checked.add(target);
  let verified = false;
  getMetadataArgsStorage().responseHandlers.push({
    type: "custom-cache-page:startup-check",
    target,
    method: undefined,
    get value(): undefined {
      if (!verified) {
        verifyDecoratedActions(target);
        verified = true;
      }
      return undefined;
    },
  } as never);
}

/**
 * Every `@CachePage` of `target` must be on a GET/HEAD action and every `@Tags` must come with a
 * `@CachePage`; the error says what to change.
 */
export function verifyDecoratedActions(target: Function): void {
  const storage = getMetadataArgsStorage();
  for (const record of allRecords()) {
    if (record.target !== target) continue;
    if (!record.options) {
      throw new CachePageOptionsError(`@Tags on ${record.where}: add @CachePage({ timeout, keyFunc }) to the method; tags alone cache nothing`);
    }
    const actions = storage.actions.filter((a) => related(a.target, record.target) && a.method === record.method);
    if (actions.length === 0) {
      throw new CachePageOptionsError(
        `@CachePage on ${record.where}: the method is not a routing-controllers action; add @Get("/path") (or @Head / @Method("get", ...)) to it`,
      );
    }
    const wrong = actions.find((a) => !CACHEABLE_ACTION_TYPES.has(String(a.type).toLowerCase()));
    if (wrong) {
      throw new CachePageOptionsError(
        `@CachePage on ${record.where}: only GET and HEAD responses are cached, but the action is @${String(wrong.type).toUpperCase()}; use @Get or remove @CachePage`,
      );
    }
    // A misspelt backend name fails when the app is created, not as a bypass at every request.
    if (typeof record.options.backend === "string") assertBackendConfigured(record.options.backend, `@CachePage on ${record.where}`);
  }
}
