import { redactUrl } from "./redactUrl";

/**
 * Loads an optional peer (a store adapter), or says which package to install for which store.
 *
 * @example
 * const KeyvSqlite = loadOptionalPackage<typeof import("@keyv/sqlite")>("@keyv/sqlite", "sqlite:///tmp/c.db").default;
 */
export function loadOptionalPackage<T>(name: string, forWhat: string): T {
  try {
    return require(name) as T;
  } catch (error) {
    throw new TypeError(`store "${redactUrl(forWhat)}" needs the package ${name}: run \`npm install ${name}\``, { cause: error });
  }
}
