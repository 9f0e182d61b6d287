import { headerText, headerTokens, type HeaderBag } from "./headers";

/** True when `Vary` lists `*`: the response varies on more than request headers and is never stored. */
export function isVaryStar(vary: HeaderBag[string]): boolean {
  return headerTokens(vary).includes("*");
}

/** The request header names a response varies on: lower case, sorted, no duplicates, no `*`. */
export function varyNames(vary: HeaderBag[string]): string[] {
  return [...new Set(headerTokens(vary))].filter((n) => n !== "*").sort();
}

/**
 * A request header's value as a variant sees it: several lines joined, white space around commas
 * dropped; `null` when the request has no such header (absent only matches absent, RFC 9111 §4.1).
 */
export function normalizedRequestValue(value: string | string[] | undefined): string | null {
  const text = headerText(value);
  if (text === undefined) return null;
  return text
    .split(",")
    .map((part) => part.trim().replace(/\s+/g, " "))
    .join(",");
}

/** The values of `names` in a request, in the order of `names`. */
export function variantValues(names: readonly string[], requestHeaders: Record<string, string | string[] | undefined>): Array<string | null> {
  return names.map((name) => normalizedRequestValue(requestHeaders[name]));
}

/** True when two requests' values of the same names select the same variant. */
export function sameVariant(a: ReadonlyArray<string | null>, b: ReadonlyArray<string | null>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * True when an `Accept-Encoding` request header accepts a content coding (RFC 9110 §12.5.3):
 * listed (or `*`) with a q-value above 0. `identity` is acceptable unless refused explicitly.
 */
export function acceptsEncoding(acceptEncoding: string | string[] | undefined, coding: string): boolean {
  const wanted = coding.trim().toLowerCase();
  const text = headerText(acceptEncoding);
  if (text === undefined) return true; // no header: any coding is acceptable
  let star: boolean | undefined;
  for (const part of text.split(",")) {
    const [rawName, ...params] = part.split(";");
    const name = rawName.trim().toLowerCase();
    if (name === "") continue;
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith("q="));
    const ok = q === undefined || Number(q.slice(2)) > 0;
    if (name === wanted || (wanted === "x-gzip" && name === "gzip") || (wanted === "gzip" && name === "x-gzip")) return ok;
    if (name === "*") star = ok;
  }
  if (star !== undefined) return star;
  return wanted === "identity";
}
