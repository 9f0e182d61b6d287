import { validateSync, type ValidationError } from "class-validator";
import { BaseCacheBackend } from "../backends/base";
import { KeyvCacheBackend } from "../backends/keyv";
import { builtinBackends, type BackendDefinition } from "./builtinBackends";
import { CachePageConfigError } from "./errors";
import { BackendEntrySchema, CachePageConfigSchema } from "./schema";

/** One named backend in {@link CachePageConfig}. */
export interface BackendConfig {
  /** A built-in name (`"keyv"`, `"composite"`, `"fastly"`, `"cloudflare"`, `"varnish"`) or a class. */
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
  /** After `failureThreshold` store failures in a row (default 5) the store is skipped for `cooldownMs` (default 5000), then probed; `false` switches it off. */
  circuitBreaker?: false | { failureThreshold?: number; cooldownMs?: number };
}

/** HTTP-level settings in force. */
export interface HttpSettings {
  /** Lower-case header name, or undefined when switched off. */
  cacheStatusHeader: string | undefined;
  maxBodySize: number;
  storeTimeoutMs: number;
  circuitBreaker: { failureThreshold: number; cooldownMs: number } | undefined;
}

const DEFAULT_CIRCUIT = { failureThreshold: 5, cooldownMs: 5000 };
const DEFAULT_HTTP: HttpSettings = {
  cacheStatusHeader: "x-cache",
  maxBodySize: 5 * 1024 * 1024,
  storeTimeoutMs: 300,
  circuitBreaker: DEFAULT_CIRCUIT,
};

/** The name of the backend that exists when nothing is configured: Keyv in memory. */
export const DEFAULT_BACKEND_NAME = "default";

interface State {
  defaultBackend: string;
  backends: Map<string, BaseCacheBackend>;
  http: HttpSettings;
}

let state: State | undefined;
let generation = 0;

function initialState(): State {
  return { defaultBackend: DEFAULT_BACKEND_NAME, backends: new Map([[DEFAULT_BACKEND_NAME, new KeyvCacheBackend()]]), http: DEFAULT_HTTP };
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
  const next = buildState(config);
  state = next;
  generation += 1;
}

/**
 * The backend configured under `name` (default: the default backend).
 *
 * @example
 * const backend = getCacheBackend("cdn");
 */
export function getCacheBackend(name?: string): BaseCacheBackend {
  state ??= initialState();
  const wanted = name ?? state.defaultBackend;
  const backend = state.backends.get(wanted);
  if (!backend) {
    const known = [...state.backends.keys()].map((n) => `"${n}"`).join(", ");
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
  state = initialState();
  generation += 1;
  if (!previous) return;
  // A backend whose store never answered may never finish closing: wait a second at most.
  const closing = Promise.allSettled([...new Set(previous.backends.values())].map((b) => b.close()));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closing, new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
  clearTimeout(timer);
}

function buildState(config: CachePageConfig): State {
  const problems: Array<{ path: string; message: string }> = [];
  if (config === null || typeof config !== "object") fail([{ path: "", message: "configureCachePage expects an object" }]);
  collect(problems, validateSync(Object.assign(new CachePageConfigSchema(), config), { forbidUnknownValues: false, whitelist: true, forbidNonWhitelisted: true }), "");
  if (problems.length) fail(problems);

  const entries = Object.entries(config.backends ?? {});
  const definitions = new Map<string, { entry: BackendConfig; definition?: BackendDefinition }>();
  for (const [name, entry] of entries) {
    const path = `backends.${name}`;
    if (entry === null || typeof entry !== "object") {
      problems.push({ path, message: "must be an object { backend, options }" });
      continue;
    }
    const before = problems.length;
    collect(problems, validateSync(Object.assign(new BackendEntrySchema(), entry), { forbidUnknownValues: false, whitelist: true, forbidNonWhitelisted: true }), path);
    if (problems.length > before) continue;
    if (typeof entry.backend === "string") {
      const definition = builtinBackends[entry.backend];
      if (!definition) {
        problems.push({ path: `${path}.backend`, message: `unknown backend "${entry.backend}"; use one of ${Object.keys(builtinBackends).map((n) => `"${n}"`).join(", ")} or a class extending BaseCacheBackend` });
        continue;
      }
      if (definition.optionsSchema) {
        const schema = Object.assign(new definition.optionsSchema(), entry.options ?? {});
        collect(problems, validateSync(schema, { forbidUnknownValues: false, whitelist: true, forbidNonWhitelisted: true }), `${path}.options`);
      }
      definitions.set(name, { entry, definition });
    } else if (typeof entry.backend === "function" && !(entry.backend.prototype instanceof BaseCacheBackend)) {
      problems.push({ path: `${path}.backend`, message: `${entry.backend.name || "the class"} does not extend BaseCacheBackend` });
    } else {
      definitions.set(name, { entry });
    }
  }
  if (problems.length) fail(problems);

  // References among composites: unknown names and cycles.
  for (const [name, { entry, definition }] of definitions) {
    (definition?.references?.(entry.options ?? {}) ?? []).forEach((ref, i) => {
      if (!definitions.has(ref)) {
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
      backend = definition
        ? definition.create(entry.options ?? {}, build)
        : new (entry.backend as new (o: unknown) => BaseCacheBackend)(entry.options ?? {});
    } catch (error) {
      if (error instanceof CachePageConfigError) throw error;
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
    cacheStatusHeader:
      config.cacheStatusHeader === false ? undefined : (config.cacheStatusHeader ?? DEFAULT_HTTP.cacheStatusHeader)?.toLowerCase(),
    maxBodySize: config.maxBodySize ?? DEFAULT_HTTP.maxBodySize,
    storeTimeoutMs: config.storeTimeoutMs ?? DEFAULT_HTTP.storeTimeoutMs,
    circuitBreaker: config.circuitBreaker === false ? undefined : { ...DEFAULT_CIRCUIT, ...(config.circuitBreaker ?? {}) },
  };
  return { defaultBackend, backends: built, http };
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

function collect(problems: Array<{ path: string; message: string }>, errors: ValidationError[], base: string): void {
  for (const error of errors) {
    const path = base ? `${base}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) {
      problems.push({ path, message: message.startsWith(`property ${error.property} should not exist`) ? `unknown option "${error.property}"` : message });
    }
    if (error.children?.length) collect(problems, error.children, path);
  }
}

function fail(problems: Array<{ path: string; message: string }>): never {
  const [first] = problems;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more: ${problems.slice(1).map((p) => p.path).join(", ")})` : "";
  throw new CachePageConfigError(`Invalid cache configuration at ${first.path || "<root>"}: ${first.message}${more}`, first.path, problems);
}
