import type { CacheRequest } from "../model";
import { DEFAULT_VERSION_TIMEOUT, rememberVersionedTag } from "../backends/tagVersions";
import type { TagRef } from "../model";
import { normalizeTagName, Versioned } from "./versioned";

/** What can be given as a tag. */
export type TagSpec = string | Versioned | ((req: CacheRequest) => string | string[] | null | undefined);

/** A tag after resolution for one request. */
export type ResolvedTag = TagRef;

/** Thrown when a tag callable throws or returns something that is not a string. */
export class TagResolutionError extends Error {}

/**
 * Turns the specs into tags for one request: trimmed, inner white space as `-`, empty ones and
 * duplicates dropped, order kept. A name used both plain and versioned is kept once, versioned.
 */
export function resolveTags(specs: readonly TagSpec[], req: CacheRequest): ResolvedTag[] {
  const byName = new Map<string, ResolvedTag>();
  const add = (raw: unknown, versionedTimeout: number | undefined, origin: string) => {
    if (raw === null || raw === undefined) return;
    if (typeof raw !== "string") {
      throw new TagResolutionError(`${origin} returned ${describe(raw)}; it must return a string, an array of strings, null or undefined`);
    }
    const name = normalizeTagName(raw);
    if (name === "") return;
    const existing = byName.get(name);
    if (versionedTimeout !== undefined) {
      rememberVersionedTag(name, versionedTimeout);
      byName.set(name, { name, versioned: true, versionTimeout: Math.max(versionedTimeout, existing?.versioned ? existing.versionTimeout : 0) });
    } else if (!existing) {
      byName.set(name, { name, versioned: false, versionTimeout: DEFAULT_VERSION_TIMEOUT });
    }
  };
  specs.forEach((spec, i) => {
    const origin = `tag #${i + 1}`;
    if (typeof spec === "string") return add(spec, undefined, origin);
    if (spec instanceof Versioned) {
      const name = typeof spec.name === "function" ? call(spec.name, req, `versioned ${origin}`) : spec.name;
      return add(name, spec.timeout, `versioned ${origin}`);
    }
    if (typeof spec === "function") {
      const value = call(spec, req, origin);
      if (Array.isArray(value)) value.forEach((v) => add(v, undefined, origin));
      else add(value, undefined, origin);
      return;
    }
    throw new TagResolutionError(`${origin} is ${describe(spec)}; a tag is a string, versioned(...) or a function`);
  });
  return [...byName.values()];
}

function call(fn: (req: CacheRequest) => unknown, req: CacheRequest, origin: string): unknown {
  try {
    return fn(req);
  } catch (error) {
    throw new TagResolutionError(`${origin} threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}
