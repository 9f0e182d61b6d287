import { validateSync, type ValidationError } from "class-validator";
import { BackendOptionsError } from "./errors";
import { kindOf } from "./optionRules";

/** One refused field: its path (e.g. `prune`, `backends.cdn.options.apiToken`) and what to change. */
export interface OptionProblem {
  path: string;
  message: string;
}

/** A class-validator class describing an options object. */
export type OptionsSchema = new () => object;

/**
 * What is wrong with `options` by `schema` (unknown fields included), each with its path under
 * `base`. The one place where options are checked against a schema: backend constructors and
 * `configureCachePage` both come here, so a rule gives the same message on both paths.
 *
 * @example
 * optionProblems(KeyvCacheBackend.optionsSchema, { maxBytes: -1 }, "backends.main.options");
 * // [{ path: "backends.main.options.maxBytes", message: "maxBytes must be ..." }]
 */
export function optionProblems(schema: OptionsSchema, options: object, base = ""): OptionProblem[] {
  const problems: OptionProblem[] = [];
  collectProblems(
    problems,
    validateSync(Object.assign(new schema(), options), { forbidUnknownValues: false, whitelist: true, forbidNonWhitelisted: true }),
    base,
  );
  return problems;
}

/** Appends class-validator's errors to `problems` as paths and messages ("unknown option" for a field the schema lacks). */
export function collectProblems(problems: OptionProblem[], errors: ValidationError[], base: string): void {
  for (const error of errors) {
    const path = base ? `${base}.${error.property}` : error.property;
    // A missing field needs one message (what to set), not also every rule its absent value breaks.
    const constraints = error.constraints?.isDefined ? { isDefined: error.constraints.isDefined } : (error.constraints ?? {});
    for (const message of Object.values(constraints)) {
      problems.push({ path, message: message.startsWith(`property ${error.property} should not exist`) ? `unknown option "${error.property}"` : message });
    }
    if (error.children?.length) collectProblems(problems, error.children, path);
  }
}

/**
 * Checks a constructor's options against its class's schema; throws a {@link BackendOptionsError}
 * naming the first bad field and what to change (and the paths of the others).
 *
 * @example
 * constructor(options: FastlyBackendOptions) {
 *   validateOptions("FastlyBackend", FastlyBackendOptionsSchema, options);
 *   ...
 * }
 */
export function validateOptions(owner: string, schema: OptionsSchema, options: unknown): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new BackendOptionsError(`${owner} expects an options object (got ${kindOf(options)})`, "", [
      { path: "", message: `options must be an object (got ${kindOf(options)})` },
    ]);
  }
  const problems = optionProblems(schema, options);
  if (problems.length === 0) return;
  const [first] = problems;
  const sameField = problems.filter((p) => p.path === first.path).map((p) => p.message);
  const others = [...new Set(problems.filter((p) => p.path !== first.path).map((p) => p.path))];
  const more = others.length > 0 ? ` (and ${others.length} more: ${others.join(", ")})` : "";
  throw new BackendOptionsError(`Invalid ${owner} options at ${first.path}: ${sameField.join("; ")}${more}`, first.path, problems);
}
