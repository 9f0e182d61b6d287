import { BackendOptionsError, CachePageConfigError } from "../config/errors";
import { validateOptions } from "../config/validateOptions";
import { BaseCacheBackend } from "./base";
import { CompositeBackendOptionsSchema } from "./compositeOptions";
import type { CachedResponse, CacheEntry, LookupResult, TagRef } from "./types";

const LOOKUP_FAILED = Symbol("lookup failed");

/** Options of {@link CompositeBackend}. */
export interface CompositeBackendOptions {
  /** The parts, in read order. */
  backends: BaseCacheBackend[];
}

/**
 * Some parts of a composite operation failed. The other parts still ran; `errors` holds each
 * failure with the index of its part, `result` what the successful parts gave.
 *
 * @example
 * try { await invalidateTag("products"); } catch (e) { if (e instanceof CompositeBackendError) console.log(e.errors); }
 */
export class CompositeBackendError extends AggregateError {
  constructor(
    readonly operation: string,
    errors: Array<{ part: number; backend: string; error: unknown }>,
    readonly result?: number | boolean,
  ) {
    super(
      errors.map((e) => e.error),
      `${operation} failed on ${errors.length} part(s) of the composite backend: ` +
        errors.map((e) => `#${e.part} ${e.backend}: ${e.error instanceof Error ? e.error.message : String(e.error)}`).join("; "),
    );
    this.name = "CompositeBackendError";
    this.parts = errors;
  }
  readonly parts: Array<{ part: number; backend: string; error: unknown }>;
}

/**
 * Several backends as one: reads from the first part that has the entry, writes to and
 * invalidates every part (a failing part does not stop the others), and chains `prepareResponse`.
 * Typical: a local Keyv cache plus a CDN that gets tag headers and purges.
 *
 * @example
 * const backend = new CompositeBackend({ backends: [new KeyvCacheBackend(), new FastlyBackend({ apiToken, serviceId })] });
 * // or by name in configureCachePage: { backend: "composite", options: { backends: ["keyv", "fastly"] } }
 */
export class CompositeBackend extends BaseCacheBackend {
  readonly backends: BaseCacheBackend[];

  /** The rules of its options, checked by its constructor and by `configureCachePage`. */
  static readonly optionsSchema = CompositeBackendOptionsSchema;

  constructor(options: CompositeBackendOptions) {
    validateOptions("CompositeBackend", CompositeBackendOptionsSchema, options);
    super(options as unknown as Record<string, unknown>);
    // Names are resolved by configureCachePage; built directly, a composite needs the instances.
    options.backends.forEach((b, i) => {
      if (!(b instanceof BaseCacheBackend)) {
        throw new BackendOptionsError(
          `Invalid CompositeBackend options at backends[${i}]: ${JSON.stringify(b)} is a name; new CompositeBackend takes backend instances (names work in configureCachePage)`,
          `backends[${i}]`,
        );
      }
    });
    this.backends = [...options.backends];
    assertOneStoreScope(this.backends);
    if (this.backends.every((part) => typeof part.invalidateBySurrogatesStale === "function")) {
      this.invalidateBySurrogatesStale = async (tags: string[]) => {
        const results = await this.all("invalidateBySurrogatesStale", (part) => part.invalidateBySurrogatesStale!(tags));
        return results[0] ?? 0;
      };
    }
  }

  /** The parts: invalidations without a backend name reach each part once. */
  override invalidationParts(): BaseCacheBackend[] {
    return this.backends;
  }

  /** Invalidates every part; `deleted` is the first part's (as {@link invalidateBySurrogate}), versions the highest any part bumped. */
  override async invalidateTagsDetailed(tags: string[]): Promise<{ deleted: number; versions: Record<string, number> }> {
    const results = await this.all("invalidateTagsDetailed", async (part) => {
      if (part.invalidateTagsDetailed) return part.invalidateTagsDetailed(tags);
      return { deleted: await part.invalidateBySurrogates(tags), versions: {} };
    });
    const versions: Record<string, number> = {};
    for (const r of results) for (const [tag, v] of Object.entries(r?.versions ?? {})) versions[tag] = Math.max(versions[tag] ?? 0, v);
    return { deleted: results[0]?.deleted ?? 0, versions };
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    return (await this.lookup(key, [])).response;
  }

  override async lookup(key: string, tags: readonly TagRef[]): Promise<LookupResult> {
    const tokens: unknown[] = [];
    for (const part of this.backends) {
      let result: LookupResult;
      try {
        result = await part.lookup(key, tags);
      } catch {
        // A failing part is skipped for reads (the next one may have the entry) and for this
        // request's store: without the versions read before the action ran, an entry written
        // there could outlive an invalidation that raced it.
        tokens.push(LOOKUP_FAILED);
        continue;
      }
      if (result.response) {
        tokens.push(result.token);
        return {
          response: result.response,
          metadata: result.metadata,
          token: tokens,
          ...(result.staleSince !== undefined ? { staleSince: result.staleSince } : {}),
        };
      }
      tokens.push(result.token);
    }
    return { token: tokens };
  }

  /** The first part's synchronous read: a hit there is a hit of the composite. */
  override lookupSync(key: string, tags: readonly TagRef[]): LookupResult | undefined {
    const result = this.backends[0].lookupSync(key, tags);
    return result?.response ? { response: result.response, metadata: result.metadata, token: [result.token] } : undefined;
  }

  async set(entry: CacheEntry): Promise<void> {
    const tokens = Array.isArray(entry.token) ? entry.token : [];
    await this.all("set", async (part, i) => (tokens[i] === LOOKUP_FAILED ? undefined : part.set({ ...entry, token: tokens[i] })));
  }

  async delete(key: string): Promise<boolean> {
    const results = await this.all("delete", (part) => part.delete(key));
    return results.some((r) => r === true);
  }

  /** Invalidates every part; returns what the first part returned (the local store's count or version). */
  async invalidateBySurrogate(surrogateKey: string): Promise<number> {
    const results = await this.all("invalidateBySurrogate", (part) => part.invalidateBySurrogate(surrogateKey));
    return results[0] ?? 0;
  }

  override async invalidateBySurrogates(keys: string[]): Promise<number> {
    const results = await this.all("invalidateBySurrogates", (part) => part.invalidateBySurrogates(keys));
    return results[0] ?? 0;
  }

  /** Present only when every part can mark entries stale (see the constructor). */
  declare invalidateBySurrogatesStale?: (tags: string[]) => Promise<number>;

  override prepareResponse(response: CachedResponse, surrogateKeys: string[]): CachedResponse {
    return this.backends.reduce((r, part) => part.prepareResponse(r, surrogateKeys), response);
  }

  /** Locks live in the first part that has them (the shared store). */
  override async acquireLock(name: string, ttlMs: number): Promise<string | null | undefined> {
    for (const part of this.backends) {
      const result = await part.acquireLock(name, ttlMs);
      if (result !== undefined) return result;
    }
    return undefined;
  }

  override async releaseLock(name: string, token: string): Promise<void> {
    await Promise.allSettled(this.backends.map((part) => part.releaseLock(name, token)));
  }

  override async close(): Promise<void> {
    await this.all("close", (part) => part.close());
  }

  private async all<T>(operation: string, run: (part: BaseCacheBackend, index: number) => Promise<T>): Promise<Array<T | undefined>> {
    const settled = await Promise.allSettled(this.backends.map((part, i) => run(part, i)));
    const errors = settled.flatMap((s, part) => (s.status === "rejected" ? [{ part, backend: this.backends[part].constructor.name, error: s.reason }] : []));
    const values = settled.map((s) => (s.status === "fulfilled" ? s.value : undefined));
    if (errors.length > 0) {
      const first = values.find((v) => typeof v === "number" || typeof v === "boolean") as number | boolean | undefined;
      throw new CompositeBackendError(operation, errors, first);
    }
    return values;
  }
}

/**
 * Where a backend keeps its entries (see `BaseCacheBackend.storeScope`): its own declaration (a
 * Keyv backend declares what its store is: memory `"process"`, Redis and SQL `"shared"`), a
 * composite's from its parts, else undefined (unknown: not checked).
 *
 * @example
 * storeScopeOf(new KeyvCacheBackend()) // "process"
 */
export function storeScopeOf(backend: BaseCacheBackend): "process" | "shared" | "none" | undefined {
  if (backend.storeScope) return backend.storeScope;
  if (backend instanceof CompositeBackend) {
    const scopes = new Set(backend.backends.map(storeScopeOf));
    return scopes.has("shared") ? "shared" : scopes.has("process") ? "process" : undefined;
  }
  return undefined;
}

/**
 * A composite whose parts keep entries both in this process's memory and in a shared store cannot
 * keep SPEC §3 across processes: another process keeps serving from its own memory what this one
 * invalidated. Refused with a message pointing to the two-tier Keyv option.
 */
function assertOneStoreScope(parts: BaseCacheBackend[]): void {
  const scopes = parts.map(storeScopeOf);
  const local = scopes.indexOf("process");
  const shared = scopes.indexOf("shared");
  if (local < 0 || shared < 0) return;
  throw new CachePageConfigError(
    `CompositeBackend: part ${local} (${parts[local].constructor.name}) keeps entries in this process's memory and part ${shared} ` +
      `(${parts[shared].constructor.name}) in a store other processes share; invalidating in one process would leave the others ` +
      `serving the old pages from their memory. Use the shared store alone, or one backend with a ` +
      `local tier: new KeyvCacheBackend({ store: "redis://…", local: { maxBytes: 32 * 1024 * 1024 } }) ` +
      `(in configureCachePage: { backend: "keyv", options: { store: "redis://…", local: { … } } }), which keeps the guarantee across processes.`,
    "backends",
  );
}
