import { ArrayNotEmpty, IsArray, IsDefined, ValidateBy } from "class-validator";
import { BaseCacheBackend } from "./base";

/**
 * The options of {@link CompositeBackend}: what its constructor and
 * `configureCachePage({ backends: { x: { backend: "composite", options } } })` both check. Parts
 * are backend instances, or (in `configureCachePage`) names of configured backends.
 *
 * @example
 * { backend: "composite", options: { backends: ["local", "fastly"] } }
 */
export class CompositeBackendOptionsSchema {
  @IsDefined({ message: 'backends is required: the backends to combine, e.g. ["keyv", "fastly"] in configureCachePage' })
  @IsArray({ message: "backends must be an array of backend names (or of backend instances)" })
  @ArrayNotEmpty({ message: "backends must name at least one backend" })
  @ValidateBy({
    name: "isBackendPart",
    validator: {
      validate: (value: unknown) =>
        !Array.isArray(value) || value.every((part) => (typeof part === "string" && part.length > 0) || part instanceof BaseCacheBackend),
      defaultMessage: (args) => {
        const parts = Array.isArray(args?.value) ? (args.value as unknown[]) : [];
        const bad = parts.findIndex((part) => !((typeof part === "string" && part.length > 0) || part instanceof BaseCacheBackend));
        return `each entry of backends must be the name of a configured backend or a BaseCacheBackend instance (backends[${bad}] is ${JSON.stringify(parts[bad]) ?? String(parts[bad])})`;
      },
    },
  })
  backends!: unknown[];
}
