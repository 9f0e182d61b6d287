import type { BaseCacheBackend } from "../backends/base";
import { getCacheBackend, listCacheBackends, storeTimeoutOf } from "../config/configure";
import { storageKeysOf } from "../keys/storageKey";
import { normalizeTagName } from "../tags/versioned";
import { CacheInvalidationError, InvalidationTimeoutError, type CacheInvalidationFailure } from "./errors";
import { performance } from "node:perf_hooks";
import { invalidateChannel, type CachePageInvalidateEvent } from "../telemetry/events";

/**
 * Where and how {@link invalidateTag} / {@link invalidateTags} invalidate.
 *
 * @example
 * await invalidateTag("products", { backend: "cdn", mode: "stale" });
 */
export interface InvalidateOptions {
  /** One configured backend by name; omitted: every backend (each configured one and each instance given to an action). */
  backend?: string;
  /**
   * `"delete"` (the default): entries go; each CDN backend purges as its own `softPurge` option says
   * (Fastly's default is a soft purge). `"stale"`: entries are marked stale instead (a soft purge on
   * Fastly and Varnish whatever their option; Cloudflare has none and purges; a KeyvCacheBackend on
   * Redis, Redis Cluster or memory serves them STALE within `staleWhileRevalidate` while one refresh
   * runs). Backends that cannot mark stale (a KeyvCacheBackend on SQLite or PostgreSQL) make the
   * call reject with a `CacheInvalidationError` whose `reason` is `"unsupported"` before anything is
   * invalidated.
   */
  mode?: "delete" | "stale";
}

/**
 * Options of {@link invalidateKey}.
 *
 * @example
 * await invalidateKey("/products?page=1", { backend: "redis", prefix: "tenant-1" });
 */
export interface InvalidateKeyOptions {
  /** One configured backend by name; omitted: every backend. */
  backend?: string;
  /** The action's prefix, when it used one (the string it gave or its function returned). */
  prefix?: string;
}

/** Versions are microsecond clocks (see DESIGN.md, "Consistency"): far above any count of entries. */
const VERSION_FLOOR = 1e15;

interface Leaf {
  name: string;
  backend: BaseCacheBackend;
}

interface TagOutcome {
  deleted: number;
  versions: Record<string, number>;
}

function normalized(tag: unknown, what: string): string {
  if (typeof tag !== "string") throw new TypeError(`${what}: a tag must be a string (got ${tag === null ? "null" : typeof tag})`);
  const name = normalizeTagName(tag);
  if (name === "") throw new TypeError(`${what}: the tag ${JSON.stringify(tag)} is empty once trimmed; pass a tag name`);
  return name;
}

function targetOf(target: string | InvalidateOptions | undefined, what: string): InvalidateOptions {
  if (target === undefined) return {};
  if (typeof target === "string") return { backend: target };
  if (target === null || typeof target !== "object" || Array.isArray(target)) {
    throw new TypeError(
      `${what}: the second argument must be a backend name or { backend?, mode? } (got ${Array.isArray(target) ? "an array" : String(target)})`,
    );
  }
  if (target.backend !== undefined && typeof target.backend !== "string") {
    throw new TypeError(`${what}: backend must be the name of a configured backend (got ${typeof target.backend})`);
  }
  if (target.mode !== undefined && target.mode !== "delete" && target.mode !== "stale") {
    throw new TypeError(`${what}: mode must be "delete" or "stale" (got ${JSON.stringify(target.mode)})`);
  }
  return target;
}

/**
 * The backends to reach, each once: composites are replaced by their parts (recursively), and a
 * part also configured under its own name carries that name.
 */
function leavesOf(roots: Array<[string, BaseCacheBackend]>): Leaf[] {
  const names = new Map<BaseCacheBackend, string>();
  for (const [name, backend] of listCacheBackends()) if (!names.has(backend)) names.set(backend, name);
  const leaves: Leaf[] = [];
  const seen = new Set<BaseCacheBackend>();
  const visit = (name: string, backend: BaseCacheBackend) => {
    if (seen.has(backend)) return;
    seen.add(backend);
    const parts = backend.invalidationParts?.();
    if (parts && parts.length > 0) {
      parts.forEach((part, i) => visit(names.get(part) ?? `${name}.backends[${i}]`, part));
      return;
    }
    leaves.push({ name, backend });
  };
  for (const [name, backend] of roots) visit(name, backend);
  return leaves;
}

function leavesFor(backendName: string | undefined): Leaf[] {
  if (backendName !== undefined) return leavesOf([[backendName, getCacheBackend(backendName)]]);
  return leavesOf(listCacheBackends());
}

/**
 * Runs `work` against `backend`, rejecting with an {@link InvalidationTimeoutError} when the backend
 * makes no progress for its store timeout plus one second. node-redis keeps commands in its
 * offline queue while disconnected, so without this an invalidation would wait for the whole
 * outage. A backend that calls `noteStoreProgress()` during long work restarts the deadline.
 */
function withinDeadline<T>(leaf: Leaf, work: () => Promise<T>): Promise<T> {
  const limit = storeTimeoutOf(leaf.backend) + 1000;
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let lastSeen = leaf.backend.lastStoreProgressAt;
    const arm = (ms: number) => {
      timer = setTimeout(() => {
        const progress = leaf.backend.lastStoreProgressAt;
        if (progress !== undefined && progress !== lastSeen) {
          lastSeen = progress;
          arm(Math.max(1, progress + limit - Date.now()));
          return;
        }
        reject(new InvalidationTimeoutError(leaf.name, limit));
      }, ms);
    };
    arm(limit);
    let pending: Promise<T>;
    try {
      pending = work();
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

async function detailedOn(backend: BaseCacheBackend, tags: string[]): Promise<TagOutcome> {
  if (backend.invalidateTagsDetailed) {
    const outcome = await backend.invalidateTagsDetailed(tags);
    return { deleted: outcome.deleted, versions: { ...outcome.versions } };
  }
  // A backend that only says one number per tag: a version is a microsecond clock, a count is not.
  const results = await Promise.all(tags.map((tag) => backend.invalidateBySurrogate(tag)));
  const outcome: TagOutcome = { deleted: 0, versions: {} };
  results.forEach((result, i) => {
    if (result >= VERSION_FLOOR) outcome.versions[tags[i]] = result;
    else outcome.deleted += result;
  });
  return outcome;
}

async function staleOn(backend: BaseCacheBackend, tags: string[]): Promise<TagOutcome> {
  return { deleted: await backend.invalidateBySurrogatesStale!(tags), versions: {} };
}

/**
 * Invalidates `tags` on every leaf, in parallel; resolves with each leaf's outcome, or rejects with
 * one CacheInvalidationError naming every leaf that failed, once all have settled.
 */
async function invalidateEverywhere(tags: string[], options: InvalidateOptions): Promise<TagOutcome[]> {
  const leaves = leavesFor(options.backend);
  if (tags.length === 0) return [];
  if (options.mode === "stale") {
    const unable = leaves.filter((l) => typeof l.backend.invalidateBySurrogatesStale !== "function");
    if (unable.length > 0) {
      // Refused before anything is invalidated: nothing is half-applied.
      throw new CacheInvalidationError(
        tags,
        unable.map((l) => ({
          backend: l.name,
          reason: "unsupported" as const,
          cause: new Error(
            `mode "stale" is not supported by ${l.backend.constructor.name} here (a KeyvCacheBackend marks entries stale on Redis, Redis Cluster ` +
              `and in-memory stores, not on SQL stores); use mode "delete", or name the backends that can: invalidateTag(tag, { backend: "<name>", mode: "stale" })`,
          ),
        })),
      );
    }
  }
  const run = options.mode === "stale" ? staleOn : detailedOn;
  const mode = options.mode ?? "delete";
  const settled = await Promise.allSettled(
    leaves.map((leaf) =>
      published(
        leaf,
        tags,
        mode,
        withinDeadline(leaf, () => run(leaf.backend, tags)),
      ),
    ),
  );
  const failures: CacheInvalidationFailure[] = [];
  const outcomes: TagOutcome[] = [];
  settled.forEach((s, i) => {
    if (s.status === "fulfilled") outcomes.push(s.value);
    else failures.push({ backend: leaves[i].name, reason: s.reason instanceof InvalidationTimeoutError ? "timeout" : "error", cause: s.reason });
  });
  if (failures.length > 0)
    throw new CacheInvalidationError(
      tags,
      failures,
      outcomes.reduce((n, o) => n + countOf(o), 0),
    );
  return outcomes;
}

/** Publishes one `custom-cache-page:invalidate` message per backend, when anyone listens. */
function published(leaf: Leaf, tags: string[], mode: "delete" | "stale", work: Promise<TagOutcome>): Promise<TagOutcome> {
  if (!invalidateChannel.hasSubscribers) return work;
  const started = performance.now();
  const publish = (outcome: TagOutcome | undefined, error?: unknown) => {
    const versions = outcome ? Object.values(outcome.versions) : [];
    const event: CachePageInvalidateEvent = { backend: leaf.name, tags, mode, deleted: outcome?.deleted ?? 0, durationMs: performance.now() - started };
    if (versions.length > 0) event.version = Math.max(...versions);
    if (error !== undefined) event.error = error;
    invalidateChannel.publish(event);
  };
  return work.then(
    (outcome) => {
      publish(outcome);
      return outcome;
    },
    (error: unknown) => {
      publish(undefined, error);
      throw error;
    },
  );
}

/** One backend's answer to invalidateTags: entries deleted plus versioned tags bumped. */
function countOf(outcome: TagOutcome): number {
  return outcome.deleted + Object.keys(outcome.versions).length;
}

/**
 * Invalidates every entry tagged `tag`, on every backend (each configured one, the default
 * included, and each instance given to an action) or on the one named. A plain tag's entries are
 * deleted; a `versioned()` tag's version is bumped in O(1); a name used both ways gets both.
 *
 * Resolves with: the new version when the tag is versioned on some backend (the highest, when
 * several bumped it), else the number of entries deleted, summed over the backends. Once it
 * resolves, no request is served a response tagged `tag` whose computation began before the call.
 * Rejects with a {@link CacheInvalidationError} (naming the backend, the tag and the cause) when a
 * backend fails or its store does not answer within its store timeout plus one second: it never
 * hangs for an outage and never resolves as if it had invalidated. The other backends are still
 * invalidated; calling it again is safe.
 *
 * @example
 * await productRepository.save(product);
 * await invalidateTag("products");                      // every backend
 * await invalidateTag("products", "cdn");               // only the backend named "cdn"
 * await invalidateTag("products", { mode: "stale", backend: "cdn" }); // a soft purge
 */
export async function invalidateTag(tag: string, target?: string | InvalidateOptions): Promise<number> {
  const name = normalized(tag, "invalidateTag");
  const outcomes = await invalidateEverywhere([name], targetOf(target, "invalidateTag"));
  const versions = outcomes.flatMap((o) => (name in o.versions ? [o.versions[name]] : []));
  if (versions.length > 0) return Math.max(...versions);
  return outcomes.reduce((n, o) => n + o.deleted, 0);
}

/**
 * Invalidates several tags on every backend (or the one named), as {@link invalidateTag} does
 * for each, in as few store calls and CDN purges as each backend allows.
 *
 * Resolves with a count, never a sum of versions: the entries deleted plus the number of
 * `versioned()` tags bumped, summed over the backends (a versioned tag bumped on two backends counts
 * twice). With plain tags only, that is the number of entries deleted; with one tag it is exactly
 * what {@link invalidateTag} returns (the new version for a versioned tag). Rejects like
 * {@link invalidateTag}.
 *
 * @example
 * await invalidateTags(["products", surrogateFromModel("Product", id)]); // e.g. 3 entries deleted
 * await invalidateTags(["products", "catalog-version"]); // 2 deleted + 1 versioned tag bumped = 3
 */
export async function invalidateTags(tags: string[], target?: string | InvalidateOptions): Promise<number> {
  if (!Array.isArray(tags))
    throw new TypeError(`invalidateTags: expects an array of tag names (got ${tags === null ? "null" : typeof tags}); for one tag use invalidateTag`);
  const names = [...new Set(tags.map((t) => normalized(t, "invalidateTags")))];
  if (names.length === 1) return invalidateTag(names[0], target);
  const outcomes = await invalidateEverywhere(names, targetOf(target, "invalidateTags"));
  return outcomes.reduce((n, o) => n + countOf(o), 0);
}

/**
 * Deletes one entry (every `Vary` variant of it) on every backend, or on the one named: `key` is
 * what `keyFunc` returned; give `prefix` when the action used one. Resolves true when some backend
 * had it. Rejects with a {@link CacheInvalidationError} (its `key` set, `tags` empty) when a backend
 * fails or does not answer within its store timeout plus one second.
 *
 * @example
 * await invalidateKey("/products?page=1");
 * await invalidateKey("/products?page=1", { prefix: "tenant-42", backend: "redis" });
 */
export async function invalidateKey(key: string, options: InvalidateKeyOptions = {}): Promise<boolean> {
  if (typeof key !== "string") throw new TypeError(`invalidateKey: the key must be a string (got ${key === null ? "null" : typeof key})`);
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError("invalidateKey: options must be { backend?, prefix? }");
  }
  if (options.prefix !== undefined && typeof options.prefix !== "string") throw new TypeError("invalidateKey: prefix must be a string");
  const leaves = leavesFor(options.backend);
  const storageKeys = storageKeysOf(options.prefix, key);
  const settled = await Promise.allSettled(
    leaves.map((leaf) => withinDeadline(leaf, async () => (await Promise.all(storageKeys.map((k) => leaf.backend.delete(k)))).some(Boolean))),
  );
  const failures: CacheInvalidationFailure[] = [];
  let found = false;
  settled.forEach((s, i) => {
    if (s.status === "fulfilled") found ||= s.value;
    else failures.push({ backend: leaves[i].name, reason: s.reason instanceof InvalidationTimeoutError ? "timeout" : "error", cause: s.reason });
  });
  if (failures.length > 0) throw new CacheInvalidationError([], failures, found ? 1 : 0, key);
  return found;
}
