import { BaseCacheBackend } from "../backends/base";
import { nameBackend } from "../telemetry/backendNames";
import { KeyvCacheBackend } from "../backends/keyv";
import { builtinBackends, type BackendDefinition } from "./builtinBackends";
import { reportProblem } from "../logger";
import { BackendOptionsError, CachePageConfigError, CachePageOptionsError } from "./errors";
import { BackendEntrySchema, CachePageConfigSchema } from "./schema";
import { optionProblems, type OptionsSchema } from "./validateOptions";
import { DEFAULT_STORE_TIMEOUT_MS } from "../stores/storeHealth";

/** One named backend in {@link CachePageConfig}. */
export interface BackendConfig {
  /** A built-in name (`"keyv"`, `"composite"`, `"fastly"`, `"cloudflare"`, `"varnish"`) or a class. */
  // biome-ignore lint/suspicious/noExplicitAny: a user's backend class takes options of its own type
  backend: string | (new (options: any) => BaseCacheBackend);
  options?: Record<string, unknown>;
}

/** What {@link configureCachePage} takes. */
export interface CachePageConfig {
  /** The backend used when an action or an invalidation names none (default `"default"`). */
  defaultBackend?: string;
  backends?: Record<string, BackendConfig>;
  /** Name of the header that says HIT / MISS / BYPASS / STALE (default `X-Cache`); `false` sends none. */
  cacheStatusHeader?: string | false;
  /** Bodies larger than this many bytes are passed through, not stored (default 5 MiB). */
  maxBodySize?: number;
  /** A store call on the request path that takes longer fails open: the request runs uncached (default 300 ms). */
  storeTimeoutMs?: number;
  /**
   * Off by default. A request carrying header `header` (default `X-Cache-Debug`) with this `token`
   * gets the same header back on the response, explaining the cache's decision: key hash, tags
   * and their versions, why it was or was not stored, which store answered.
   */
  debugHeader?: false | { token: string; header?: string };
  /** After `failureThreshold` store failures in a row (default 5) the store is skipped for `cooldownMs` (default 5000), then probed; `false` switches it off. */
  circuitBreaker?: false | { failureThreshold?: number; cooldownMs?: number };
}

/** HTTP-level settings in force. */
export interface HttpSettings {
  /** Lower-case header name, or undefined when switched off. */
  cacheStatusHeader: string | undefined;
  /** Lower-case header name and token of the debug header, when switched on. */
  debugHeader: { header: string; token: string } | undefined;
  maxBodySize: number;
  storeTimeoutMs: number;
  circuitBreaker: { failureThreshold: number; cooldownMs: number } | undefined;
}

const DEFAULT_CIRCUIT = { failureThreshold: 5, cooldownMs: 5000 };
const DEFAULT_HTTP: HttpSettings = {
  cacheStatusHeader: "x-cache",
  debugHeader: undefined,
  maxBodySize: 5 * 1024 * 1024,
  storeTimeoutMs: DEFAULT_STORE_TIMEOUT_MS,
  circuitBreaker: DEFAULT_CIRCUIT,
};

/** The name of the backend that exists when nothing is configured: Keyv in memory. */
export const DEFAULT_BACKEND_NAME = "default";

interface State {
  defaultBackend: string;
  backends: Map<string, BaseCacheBackend>;
  http: HttpSettings;
  /** Requests in flight on this configuration's backends (see retainBackend). */
  inFlight: number;
  /** Set once replaced: the backends close when `inFlight` reaches 0. */
  retired?: { close: () => void; done: Promise<void> };
}

let state: State | undefined;
let generation = 0;
/** Configurations replaced by configureCachePage whose backends are still in use by requests. */
const retiredStates = new Set<State>();
/** Which configuration built a backend (every part of it included). */
const stateOfBackend = new WeakMap<BaseCacheBackend, State>();
/** Backend instances given to actions (`@CachePage({ backend: instance })`), as the engine registered them. */
const actionBackends = new Set<BaseCacheBackend>();
/** How long a replaced configuration waits for its in-flight requests before it closes anyway. */
const RETIRED_GRACE_MS = 60_000;
/** How long closing one backend may take before closeCachePage stops waiting for it. */
const CLOSE_TIMEOUT_MS = 5_000;

function initialState(): State {
  return adopt({ defaultBackend: DEFAULT_BACKEND_NAME, backends: new Map([[DEFAULT_BACKEND_NAME, new KeyvCacheBackend()]]), http: DEFAULT_HTTP, inFlight: 0 });
}

function adopt(next: State): State {
  for (const [name, backend] of next.backends) {
    nameBackend(backend, name);
    for (const b of withParts(backend)) stateOfBackend.set(b, next);
  }
  return next;
}

function withParts(backend: BaseCacheBackend, seen = new Set<BaseCacheBackend>()): BaseCacheBackend[] {
  if (seen.has(backend)) return [];
  seen.add(backend);
  return [backend, ...(backend.invalidationParts?.() ?? []).flatMap((p) => withParts(p, seen))];
}

function currentState(): State {
  state ??= initialState();
  return state;
}

/**
 * Configures the named backends, validated with class-validator. An unknown backend, a missing
 * required option, a wrong type or a cycle among composites throws {@link CachePageConfigError}
 * naming the field's path, and the previous configuration stays in force: nothing is half-applied.
 * A `"default"` in-memory Keyv backend exists unless you configure one with that name.
 *
 * @example
 * configureCachePage({
 *   defaultBackend: "main",
 *   backends: {
 *     local: { backend: "keyv", options: { store: "redis://127.0.0.1:6379" } },
 *     main: { backend: "composite", options: { backends: ["local"] } },
 *   },
 * });
 */
export function configureCachePage(config: CachePageConfig): void {
  const next = adopt(buildState(config));
  const previous = state;
  state = next;
  generation += 1;
  if (previous) retire(previous);
}

/** Closes a replaced configuration's backends once the requests using them are done. */
function retire(previous: State): void {
  let close!: () => void;
  const done = new Promise<void>((resolve) => {
    let started = false;
    close = () => {
      if (started) return;
      started = true;
      clearTimeout(grace);
      retiredStates.delete(previous);
      void closeAll(uniqueBackends(previous)).then(resolve);
    };
    // A request that never releases must not keep the old connections open forever.
    const grace = setTimeout(() => close(), RETIRED_GRACE_MS);
    grace.unref();
  });
  previous.retired = { close, done };
  retiredStates.add(previous);
  if (previous.inFlight === 0) close();
}

function uniqueBackends(s: State): BaseCacheBackend[] {
  return [...new Set(s.backends.values())];
}

/** Closes backends in parallel, each given at most CLOSE_TIMEOUT_MS; failures are logged, never thrown. */
async function closeAll(backends: BaseCacheBackend[]): Promise<void> {
  await Promise.all(
    backends.map(async (backend) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), CLOSE_TIMEOUT_MS);
        timer.unref();
      });
      try {
        const outcome = await Promise.race([backend.close().then(() => "closed" as const), timeout]);
        if (outcome === "timeout") {
          reportProblem(
            `close:${backend.constructor.name}`,
            `${backend.constructor.name}.close() did not finish within ${CLOSE_TIMEOUT_MS} ms; it was forgotten anyway`,
          );
        }
      } catch (error) {
        reportProblem(`close:${backend.constructor.name}`, `${backend.constructor.name}.close() failed`, error);
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/**
 * Tells the configuration that a request is using `backend`; call the function it returns (once)
 * when the request is done. A backend that `configureCachePage` replaces is closed only when every
 * request that retained it (or another backend of its configuration) has released it. Backends
 * given to actions directly are not closed by `configureCachePage`; retaining them costs nothing.
 *
 * @example
 * const release = retainBackend(backend);
 * try { await serve(request, backend); } finally { release(); }
 */
export function retainBackend(backend: BaseCacheBackend): () => void {
  const owner = stateOfBackend.get(backend);
  if (!owner) return () => undefined;
  owner.inFlight += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    releaseState(owner);
  };
}

/**
 * The counterpart of {@link retainBackend} for callers that cannot keep the function it returned:
 * releases one retain of `backend`. Prefer the returned function (it cannot release twice).
 *
 * @example
 * retainBackend(backend);
 * res.on("close", () => releaseBackend(backend));
 */
export function releaseBackend(backend: BaseCacheBackend): void {
  const owner = stateOfBackend.get(backend);
  if (owner && owner.inFlight > 0) releaseState(owner);
}

function releaseState(owner: State): void {
  owner.inFlight = Math.max(0, owner.inFlight - 1);
  if (owner.inFlight === 0) owner.retired?.close();
}

/**
 * Records a backend instance given to an action (`@CachePage({ backend: instance })`), so that
 * `invalidateTag` / `invalidateTags` / `invalidateKey` without a backend reach it, and
 * `closeCachePage()` closes it. Idempotent and cheap: calling it once per request is fine. The
 * registration is forgotten by `closeCachePage()` and `resetCachePageConfig()`, and when the
 * instance is closed.
 *
 * @example
 * const backend = new KeyvCacheBackend({ store: "redis://127.0.0.1:6379" });
 * registerActionBackend(backend); // what @CachePage({ backend }) does when the app starts
 * await invalidateTag("products"); // reaches `backend` too
 */
export function registerActionBackend(backend: BaseCacheBackend): void {
  if (!(backend instanceof BaseCacheBackend)) {
    throw new TypeError("registerActionBackend expects an instance of a BaseCacheBackend subclass");
  }
  if (actionBackends.has(backend)) return;
  actionBackends.add(backend);
  // A closed instance must not be invalidated any more (its connections are gone).
  const own = Object.hasOwn(backend, "close") ? backend.close : undefined;
  const close = backend.close;
  backend.close = async function (this: BaseCacheBackend) {
    actionBackends.delete(backend);
    if (own) backend.close = own;
    else delete (backend as { close?: unknown }).close;
    return close.call(this);
  };
}

/**
 * Every backend an invalidation without a backend name reaches: each configured one by name (the
 * default included), then each instance given to an action, as `[name, backend]` pairs. Instances
 * given to actions are named after their class.
 *
 * @example
 * for (const [name, backend] of listCacheBackends()) console.log(name, backend.constructor.name);
 */
export function listCacheBackends(): Array<[string, BaseCacheBackend]> {
  const s = currentState();
  const list: Array<[string, BaseCacheBackend]> = [...s.backends.entries()];
  const known = new Set(s.backends.values());
  for (const backend of actionBackends) {
    if (!known.has(backend)) list.push([`${backend.constructor.name} given to @CachePage`, backend]);
  }
  return list;
}

/** The store timeout in force, in ms. */
export function storeTimeoutOf(backend: BaseCacheBackend): number {
  const own = backend.storeTimeoutMs;
  return typeof own === "number" && own > 0 && Number.isFinite(own) ? own : getHttpSettings().storeTimeoutMs;
}

/**
 * Throws a {@link CachePageOptionsError} when no backend named `name` is configured; `where` says
 * which action asked (e.g. `"@CachePage on ProductController.list"`). Called when the app is
 * created, so `@CachePage({ backend: "reddis" })` fails at start-up instead of bypassing at every
 * request.
 *
 * @example
 * assertBackendConfigured("redis", "@CachePage on ProductController.list");
 */
export function assertBackendConfigured(name: string, where: string): void {
  const s = currentState();
  if (typeof name === "string" && s.backends.has(name)) return;
  const known = [...s.backends.keys()];
  const guess = typeof name === "string" ? closest(name, known) : undefined;
  throw new CachePageOptionsError(
    `${where}: backend ${JSON.stringify(name)} is not configured${guess ? ` — did you mean "${guess}"?` : ""} ` +
      `(configured: ${known.map((n) => `"${n}"`).join(", ")}). Fix the name, or add it with ` +
      `configureCachePage({ backends: { ${JSON.stringify(String(name))}: { backend: "keyv", options: { ... } } } }) before the app is created.`,
  );
}

function closest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const saved = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length];
}

/**
 * Shuts the cache down: waits (at most 5 s) for requests that retained a backend, then closes and
 * forgets every backend — configured ones, ones replaced by an earlier `configureCachePage`, and
 * instances given to actions — with their connections, timers and subscriptions. Once it
 * resolves nothing of the library keeps the process alive. Using the cache afterwards starts
 * again from an in-memory `"default"` backend (call `configureCachePage` again for more).
 *
 * @example
 * process.once("SIGTERM", async () => {
 *   server.close();
 *   await closeCachePage();
 * });
 */
export async function closeCachePage(): Promise<void> {
  const current = state;
  state = undefined;
  generation += 1;
  const owned = new Set<BaseCacheBackend>(actionBackends);
  actionBackends.clear();
  const waits: Array<Promise<void>> = [];
  if (current) {
    for (const backend of uniqueBackends(current)) owned.delete(backend);
    retire(current);
    waits.push(current.retired!.done);
  }
  for (const retired of [...retiredStates]) {
    waits.push(retired.retired!.done);
  }
  // In-flight requests get up to 5 s to finish on the backends they hold, then everything closes.
  const hurry = setTimeout(() => {
    for (const retired of [...retiredStates]) retired.retired?.close();
  }, CLOSE_TIMEOUT_MS);
  hurry.unref();
  await Promise.all([...waits, closeAll([...owned])]);
  clearTimeout(hurry);
}

/**
 * The backend configured under `name` (default: the default backend).
 *
 * @example
 * const backend = getCacheBackend("cdn");
 */
export function getCacheBackend(name?: string): BaseCacheBackend {
  const s = currentState();
  const wanted = name ?? s.defaultBackend;
  const backend = s.backends.get(wanted);
  if (!backend) {
    const known = [...s.backends.keys()].map((n) => `"${n}"`).join(", ");
    throw new CachePageConfigError(`no backend named "${wanted}" is configured (configured: ${known}); add it to configureCachePage({ backends })`, "backend");
  }
  return backend;
}

/** The HTTP settings in force. */
export function getHttpSettings(): HttpSettings {
  return state?.http ?? DEFAULT_HTTP;
}

/** Increases each time the configuration changes (lets callers cache a resolved backend). */
export function configGeneration(): number {
  return generation;
}

/**
 * Back to the start: one in-memory `"default"` backend. Closes the backends it drops.
 *
 * @example
 * afterEach(() => resetCachePageConfig());
 */
export async function resetCachePageConfig(): Promise<void> {
  const previous = state;
  state = undefined;
  generation += 1;
  // Instances given to actions belong to their tests / apps: forgotten here, not closed.
  actionBackends.clear();
  if (!previous) return;
  // A backend whose store never answered may never finish closing: wait a second at most.
  const closing = Promise.allSettled(uniqueBackends(previous).map((b) => b.close()));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closing, new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
  clearTimeout(timer);
}

function buildState(config: CachePageConfig): State {
  const problems: Array<{ path: string; message: string }> = [];
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    const got = Array.isArray(config) ? "an array" : config === null ? "null" : typeof config;
    fail([
      {
        path: "",
        message: `configureCachePage expects an object such as { defaultBackend, backends: { name: { backend, options } } } (got ${got}); to go back to the in-memory default, call resetCachePageConfig()`,
      },
    ]);
  }
  problems.push(...optionProblems(CachePageConfigSchema, config));
  if (problems.length) fail(problems);

  const entries = Object.entries(config.backends ?? {});
  const definitions = new Map<string, { entry: BackendConfig; definition?: BackendDefinition }>();
  for (const [name, entry] of entries) {
    const path = `backends.${name}`;
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
      problems.push({
        path,
        message: `must be an object { backend, options } (got ${Array.isArray(entry) ? "an array" : entry === null ? "null" : typeof entry})`,
      });
      continue;
    }
    const before = problems.length;
    problems.push(...optionProblems(BackendEntrySchema, entry, path));
    if (problems.length > before) continue;
    if (typeof entry.backend === "string") {
      const definition = builtinBackends[entry.backend];
      if (!definition) {
        problems.push({
          path: `${path}.backend`,
          message: `unknown backend "${entry.backend}"; use one of ${Object.keys(builtinBackends)
            .map((n) => `"${n}"`)
            .join(", ")} or a class extending BaseCacheBackend`,
        });
        continue;
      }
      if (definition.optionsSchema) problems.push(...optionProblems(definition.optionsSchema, entry.options ?? {}, `${path}.options`));
      definitions.set(name, { entry, definition });
    } else if (typeof entry.backend === "function" && !(entry.backend.prototype instanceof BaseCacheBackend)) {
      problems.push({ path: `${path}.backend`, message: `${entry.backend.name || "the class"} does not extend BaseCacheBackend` });
    } else {
      // A class of the user's that declares its own options schema is checked here too, with the same rules.
      const own = (entry.backend as { optionsSchema?: OptionsSchema }).optionsSchema;
      if (typeof own === "function") problems.push(...optionProblems(own, entry.options ?? {}, `${path}.options`));
      definitions.set(name, { entry });
    }
  }
  if (problems.length) fail(problems);

  // References among composites: unknown names and cycles.
  for (const [name, { entry, definition }] of definitions) {
    (definition?.references?.(entry.options ?? {}) ?? []).forEach((ref, i) => {
      if (ref !== undefined && !definitions.has(ref)) {
        problems.push({ path: `backends.${name}.options.backends[${i}]`, message: `"${ref}" is not a configured backend` });
      }
    });
  }
  if (problems.length) fail(problems);
  const cycle = findCycle(definitions);
  if (cycle) fail([{ path: `backends.${cycle[0]}.options.backends`, message: `composite backends form a cycle: ${cycle.join(" -> ")}` }]);

  const defaultBackend = config.defaultBackend ?? DEFAULT_BACKEND_NAME;
  if (defaultBackend !== DEFAULT_BACKEND_NAME && !definitions.has(defaultBackend)) {
    fail([{ path: "defaultBackend", message: `"${defaultBackend}" is not a configured backend` }]);
  }

  const built = new Map<string, BaseCacheBackend>();
  const build = (name: string): BaseCacheBackend => {
    const existing = built.get(name);
    if (existing) return existing;
    const { entry, definition } = definitions.get(name)!;
    let backend: BaseCacheBackend;
    try {
      backend = definition ? definition.create(entry.options ?? {}, build) : new (entry.backend as new (o: unknown) => BaseCacheBackend)(entry.options ?? {});
    } catch (error) {
      if (error instanceof CachePageConfigError && error.path.startsWith("backends.")) throw error;
      if (error instanceof BackendOptionsError) {
        // A constructor's own schema refused a field: the same rule, reported at its config path.
        const base = `backends.${name}.options`;
        fail(error.problems.map((p) => ({ path: p.path ? `${base}.${p.path}` : base, message: p.message })));
      }
      if (error instanceof CachePageConfigError) {
        const path = `backends.${name}.options.${error.path}`;
        throw new CachePageConfigError(`Invalid cache configuration at ${path}: ${error.message}`, path);
      }
      throw new CachePageConfigError(`backends.${name}: could not be created: ${error instanceof Error ? error.message : String(error)}`, `backends.${name}`);
    }
    built.set(name, backend);
    return backend;
  };
  try {
    for (const name of definitions.keys()) build(name);
  } catch (error) {
    void Promise.allSettled([...built.values()].map((b) => b.close()));
    throw error;
  }
  if (!built.has(DEFAULT_BACKEND_NAME)) built.set(DEFAULT_BACKEND_NAME, new KeyvCacheBackend());
  const http: HttpSettings = {
    cacheStatusHeader: config.cacheStatusHeader === false ? undefined : (config.cacheStatusHeader ?? DEFAULT_HTTP.cacheStatusHeader)?.toLowerCase(),
    debugHeader: config.debugHeader ? { header: (config.debugHeader.header ?? "x-cache-debug").toLowerCase(), token: config.debugHeader.token } : undefined,
    maxBodySize: config.maxBodySize ?? DEFAULT_HTTP.maxBodySize,
    storeTimeoutMs: config.storeTimeoutMs ?? DEFAULT_HTTP.storeTimeoutMs,
    circuitBreaker: config.circuitBreaker === false ? undefined : { ...DEFAULT_CIRCUIT, ...(config.circuitBreaker ?? {}) },
  };
  return { defaultBackend, backends: built, http, inFlight: 0 };
}

function findCycle(definitions: Map<string, { entry: BackendConfig; definition?: BackendDefinition }>): string[] | undefined {
  const visiting: string[] = [];
  const done = new Set<string>();
  const visit = (name: string): string[] | undefined => {
    const at = visiting.indexOf(name);
    if (at >= 0) return [...visiting.slice(at), name];
    if (done.has(name)) return undefined;
    visiting.push(name);
    const { entry, definition } = definitions.get(name)!;
    for (const ref of definition?.references?.(entry.options ?? {}) ?? []) {
      if (ref === undefined) continue;
      const cycle = visit(ref);
      if (cycle) return cycle;
    }
    visiting.pop();
    done.add(name);
    return undefined;
  };
  for (const name of definitions.keys()) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return undefined;
}

function fail(problems: Array<{ path: string; message: string }>): never {
  const [first] = problems;
  const more =
    problems.length > 1
      ? ` (and ${problems.length - 1} more: ${problems
          .slice(1)
          .map((p) => p.path)
          .join(", ")})`
      : "";
  throw new CachePageConfigError(`Invalid cache configuration at ${first.path || "<root>"}: ${first.message}${more}`, first.path, problems);
}
