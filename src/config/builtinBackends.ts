import type { BaseCacheBackend } from "../backends/base";
import { CloudflareBackend, type CloudflareBackendOptions } from "../backends/cloudflare";
import { CompositeBackend } from "../backends/composite";
import { FastlyBackend, type FastlyBackendOptions } from "../backends/fastly";
import { KeyvCacheBackend } from "../backends/keyv";
import { VarnishBackend, type VarnishBackendOptions } from "../backends/varnish";
import type { OptionsSchema } from "./validateOptions";

/** How a backend named in `configureCachePage` is validated and built. */
export interface BackendDefinition {
  /** The class's own options schema (the one its constructor checks); validated before anything is built. */
  optionsSchema?: OptionsSchema;
  /** Names of other configured backends the options refer to (composites), by position; undefined for an entry that is an instance. */
  references?(options: Record<string, unknown>): Array<string | undefined>;
  /** Builds the backend; `resolve` returns another configured backend by name. */
  create(options: Record<string, unknown>, resolve: (name: string) => BaseCacheBackend): BaseCacheBackend;
}

/** The backends `configureCachePage` knows by name; each is validated with its class's `optionsSchema`. */
export const builtinBackends: Record<string, BackendDefinition> = {
  keyv: {
    optionsSchema: KeyvCacheBackend.optionsSchema,
    create: (options) => new KeyvCacheBackend(options),
  },
  composite: {
    optionsSchema: CompositeBackend.optionsSchema,
    references: (options) => (Array.isArray(options.backends) ? options.backends.map((part) => (typeof part === "string" ? part : undefined)) : []),
    create: (options, resolve) =>
      new CompositeBackend({
        backends: (options.backends as Array<string | BaseCacheBackend>).map((part) => (typeof part === "string" ? resolve(part) : part)),
      }),
  },
  fastly: {
    optionsSchema: FastlyBackend.optionsSchema,
    create: (options) => new FastlyBackend(options as unknown as FastlyBackendOptions),
  },
  cloudflare: {
    optionsSchema: CloudflareBackend.optionsSchema,
    create: (options) => new CloudflareBackend(options as unknown as CloudflareBackendOptions),
  },
  varnish: {
    optionsSchema: VarnishBackend.optionsSchema,
    create: (options) => new VarnishBackend(options as unknown as VarnishBackendOptions),
  },
};
