/**
 * A strict reader of RFC 8941 Dictionary Structured Fields, the syntax of targeted cache-control
 * fields such as `CDN-Cache-Control` (RFC 9213). Strict on purpose: RFC 9213 tells a cache to ignore
 * a targeted field it cannot parse, so "almost valid" must read as invalid.
 */

/** A member's value: Integer or Decimal, String, Token, Byte Sequence, Boolean, or an Inner List. */
export type StructuredValue =
  | { type: "integer" | "decimal"; value: number }
  | { type: "string" | "token" | "bytes"; value: string }
  | { type: "boolean"; value: boolean }
  | { type: "list"; value: StructuredValue[] };

const KEY_FIRST = /[a-z*]/;
const KEY_REST = /[a-z0-9_\-.*]/;
const TOKEN_FIRST = /[A-Za-z*]/;
const TOKEN_REST = /[A-Za-z0-9!#$%&'*+\-.^_`|~:/]/;
const BASE64 = /[A-Za-z0-9+/=]/;

class Input {
  pos = 0;
  constructor(readonly text: string) {}
  /** The character at the cursor ("" at the end); a method, so that comparisons do not narrow it. */
  char(): string {
    return this.text[this.pos] ?? "";
  }
  get done(): boolean {
    return this.pos >= this.text.length;
  }
  skip(chars: string): void {
    while (!this.done && chars.includes(this.char())) this.pos++;
  }
}

/** Thrown inside the parser only; `parseDictionary` turns it into `undefined`. */
class Invalid extends Error {}

/**
 * Parses a Dictionary (RFC 8941 §4.2.2); several field lines are read as one, joined by commas.
 * Returns the members in order (a repeated key keeps its last value, parameters are checked and
 * dropped), or `undefined` when the value is not a valid Dictionary.
 *
 * @example
 * parseDictionary("max-age=3600, foo");   // Map { "max-age" => {type:"integer",value:3600}, "foo" => {type:"boolean",value:true} }
 * parseDictionary("max-age =100");        // undefined: no space allowed before "="
 */
export function parseDictionary(field: string | string[]): Map<string, StructuredValue> | undefined {
  const input = new Input((Array.isArray(field) ? field.join(",") : field).replace(/^[ \t]+|[ \t]+$/g, ""));
  const members = new Map<string, StructuredValue>();
  try {
    while (!input.done) {
      const key = parseKey(input);
      let value: StructuredValue = { type: "boolean", value: true };
      if (input.char() === "=") {
        input.pos++;
        value = input.char() === "(" ? parseInnerList(input) : parseBareItem(input);
      }
      parseParameters(input);
      members.delete(key);
      members.set(key, value);
      input.skip(" \t");
      if (input.done) break;
      if (input.char() !== ",") throw new Invalid();
      input.pos++;
      input.skip(" \t");
      if (input.done) throw new Invalid(); // a trailing comma
    }
  } catch (error) {
    if (error instanceof Invalid) return undefined;
    throw error;
  }
  return members;
}

function parseKey(input: Input): string {
  if (!KEY_FIRST.test(input.char())) throw new Invalid();
  const start = input.pos;
  while (!input.done && KEY_REST.test(input.char())) input.pos++;
  return input.text.slice(start, input.pos);
}

function parseParameters(input: Input): void {
  while (input.char() === ";") {
    input.pos++;
    input.skip(" ");
    parseKey(input);
    if (input.char() === "=") {
      input.pos++;
      parseBareItem(input);
    }
  }
}

function parseInnerList(input: Input): StructuredValue {
  input.pos++; // "("
  const items: StructuredValue[] = [];
  for (;;) {
    input.skip(" ");
    if (input.done) throw new Invalid();
    if (input.char() === ")") {
      input.pos++;
      parseParameters(input);
      return { type: "list", value: items };
    }
    items.push(parseBareItem(input));
    parseParameters(input);
    if (input.char() !== " " && input.char() !== ")") throw new Invalid();
  }
}

function parseBareItem(input: Input): StructuredValue {
  const c = input.char();
  if (c === "-" || (c >= "0" && c <= "9")) return parseNumber(input);
  if (c === '"') return parseString(input);
  if (c === ":") return parseBytes(input);
  if (c === "?") {
    const bit = input.text[input.pos + 1];
    if (bit !== "0" && bit !== "1") throw new Invalid();
    input.pos += 2;
    return { type: "boolean", value: bit === "1" };
  }
  if (TOKEN_FIRST.test(c)) {
    const start = input.pos;
    while (!input.done && TOKEN_REST.test(input.char())) input.pos++;
    return { type: "token", value: input.text.slice(start, input.pos) };
  }
  throw new Invalid();
}

function parseNumber(input: Input): StructuredValue {
  const match = /^(-?)(\d+)(?:\.(\d+))?/.exec(input.text.slice(input.pos));
  if (!match) throw new Invalid();
  const [whole, , integer, fraction] = match;
  if (fraction === undefined ? integer.length > 15 : integer.length > 12 || fraction.length > 3) throw new Invalid();
  input.pos += whole.length;
  return { type: fraction === undefined ? "integer" : "decimal", value: Number(whole) };
}

function parseString(input: Input): StructuredValue {
  let value = "";
  input.pos++; // opening quote
  for (;;) {
    if (input.done) throw new Invalid();
    const c = input.char();
    input.pos++;
    if (c === '"') return { type: "string", value };
    if (c === "\\") {
      const escaped = input.char();
      if (escaped !== '"' && escaped !== "\\") throw new Invalid();
      value += escaped;
      input.pos++;
      continue;
    }
    const code = c.charCodeAt(0);
    if (code < 0x20 || code > 0x7e) throw new Invalid();
    value += c;
  }
}

function parseBytes(input: Input): StructuredValue {
  input.pos++; // opening colon
  const start = input.pos;
  while (!input.done && BASE64.test(input.char())) input.pos++;
  if (input.char() !== ":") throw new Invalid();
  const value = input.text.slice(start, input.pos);
  input.pos++;
  return { type: "bytes", value };
}
