import type { BaseCacheBackend } from "../backends/base";
import { CompositeBackend } from "../backends/composite";
import { KeyvCacheBackend } from "../backends/keyv";
import { CompositeBackendOptionsSchema, KeyvBackendOptionsSchema } from "./schema";
import { CloudflareBackend, type CloudflareBackendOptions } from "../backends/cloudflare";
import { FastlyBackend, type FastlyBackendOptions } from "../backends/fastly";
import { VarnishBackend, type VarnishBackendOptions } from "../backends/varnish";
import { CloudflareBackendOptionsSchema, FastlyBackendOptionsSchema, VarnishBackendOptionsSchema } from "./cdnSchemas";

/** How a backend named in `configureCachePage` is validated and built. */
export interface BackendDefinition {
  /** A class-validator class describing the options; validated before anything is built. */
  optionsSchema?: new () => object;
  /** Names of other configured backends the options refer to (composites); used to find cycles. */
  references?(options: Record<string, unknown>): string[];
  /** Builds the backend; `resolve` returns another configured backend by name. */
  create(options: Record<string, unknown>, resolve: (name: string) => BaseCacheBackend): BaseCacheBackend;
}

/** The backends `configureCachePage` knows by name. */
export const builtinBackends: Record<string, BackendDefinition> = {
  keyv: {
    // A class may carry its own options schema (one schema for its constructor and for here).
    optionsSchema: (KeyvCacheBackend as unknown as { optionsSchema?: new () => object }).optionsSchema ?? KeyvBackendOptionsSchema,
    create: (options) => new KeyvCacheBackend(options),
  },
  composite: {
    optionsSchema: CompositeBackendOptionsSchema,
    references: (options) => (Array.isArray(options.backends) ? (options.backends as string[]) : []),
    create: (options, resolve) => new CompositeBackend({ backends: (options.backends as string[]).map(resolve) }),
  },
  fastly: {
    optionsSchema: FastlyBackendOptionsSchema,
    create: (options) => new FastlyBackend(options as unknown as FastlyBackendOptions),
  },
  cloudflare: {
    optionsSchema: CloudflareBackendOptionsSchema,
    create: (options) => new CloudflareBackend(options as unknown as CloudflareBackendOptions),
  },
  varnish: {
    optionsSchema: VarnishBackendOptionsSchema,
    create: (options) => new VarnishBackend(options as unknown as VarnishBackendOptions),
  },
};
