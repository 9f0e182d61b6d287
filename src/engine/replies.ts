import type { BaseCacheBackend } from "../backends/base";
import { configGeneration, getHttpSettings } from "../config/configure";
import { reportProblem } from "../logger";
import type { CachedResponse } from "../model";
import { cacheStatusMember, withCacheStatus, type CacheStatusOutcome } from "../http/cacheStatus";
import { answersNotModified, NOT_MODIFIED_HEADERS } from "../http/conditional";

/** A response to send: `body` undefined means none (304). */
export interface Reply {
  status: number;
  /** May be shared between replies: read it, never change it. */
  headers: Readonly<Record<string, string | string[]>>;
  body: Buffer | undefined;
  /**
   * The same body as UTF-8 text, when its bytes are exactly that and it is small. Node writes a
   * string body together with the head in one write; a Buffer goes out as a second chunk of a
   * writev, which costs a hit measurably more. Drivers that send it must send it as UTF-8.
   */
  text?: string;
  /** Headers that differ on every reply (`Age`, `Cache-Status`), sent besides `headers`. */
  extra: Record<string, string>;
  /** Fresh or stale (for telemetry). */
  label: "HIT" | "STALE";
}

/** The cache's status word in `X-Cache` (or the configured header). */
export type CacheLabel = "HIT" | "MISS" | "BYPASS" | "STALE";

/** What an entry's metadata says about when and how it was stored. */
export interface StoredTimes {
  storedAt: number;
  /** When it stops being fresh (ms). */
  freshUntil: number;
  /** Its age when it was stored, seconds (its own `Age`, or how far its `Date` lay behind). */
  initialAge: number;
}

interface ReplyTemplate {
  generation: number;
  label: "HIT" | "STALE";
  surrogateKeys: readonly string[];
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  text: string | undefined;
  /** The action's own Cache-Status, ours goes after it. */
  cacheStatus: string | string[] | undefined;
}

const templates = new WeakMap<CachedResponse, ReplyTemplate[]>();

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

/** Sets the cache status header (X-Cache by default) unless it is switched off. */
export function setCacheLabel(headers: Record<string, string | string[]>, label: CacheLabel): void {
  const name = getHttpSettings().cacheStatusHeader;
  if (name) headers[name] = label;
}

/** The headers that say what the cache did, for a response the cache did not answer itself. */
export function statusHeaders(label: CacheLabel, outcome: CacheStatusOutcome, existingCacheStatus?: string | string[]): Record<string, string> {
  const headers: Record<string, string> = { "cache-status": withCacheStatus(existingCacheStatus, cacheStatusMember(outcome)) };
  setCacheLabel(headers, label);
  return headers;
}

/** `prepareResponse` of the backend; a throwing one is reported and the response goes out as it was. */
export function prepared(backend: BaseCacheBackend, response: CachedResponse, surrogateKeys: string[]): CachedResponse {
  try {
    return backend.prepareResponse(response, surrogateKeys);
  } catch (error) {
    reportProblem(`prepare:${backend.constructor.name}`, `prepareResponse failed on ${backend.constructor.name}`, error, "error");
    return response;
  }
}

/**
 * What every hit of a stored response sends but for `Age` and `Cache-Status`: prepared by the
 * backend, with the cache label and Content-Length. Built once per stored response object (the
 * in-memory store hands out the same one on every hit) and configuration.
 */
function templateFor(backend: BaseCacheBackend, surrogateKeys: string[], stored: CachedResponse, label: "HIT" | "STALE"): ReplyTemplate {
  const generation = configGeneration();
  let known = templates.get(stored);
  if (known) {
    for (const t of known) {
      if (t.generation === generation && t.label === label && sameKeys(t.surrogateKeys, surrogateKeys)) return t;
    }
  }
  const out = prepared(backend, { status: stored.status, headers: { ...stored.headers }, body: stored.body }, surrogateKeys);
  const headers = out.headers;
  const cacheStatus = headers["cache-status"];
  delete headers["cache-status"];
  setCacheLabel(headers, label);
  headers["content-length"] = String(out.body.length);
  const template: ReplyTemplate = { generation, label, surrogateKeys, status: out.status, headers, body: out.body, text: exactText(out.body), cacheStatus };
  if (!known || known.length >= 4) templates.set(stored, (known = []));
  known.push(template);
  return template;
}

/**
 * The reply to a request from a stored response: the response itself (the template's headers go
 * out as they are, no copy per hit), or a 304 when the request's conditional headers match it.
 * For HEAD the body is handed over too: Node and Koa send its length but not its bytes.
 */
export function replyFromEntry(
  backend: BaseCacheBackend,
  surrogateKeys: string[],
  requestHeaders: Record<string, string | string[] | undefined>,
  stored: CachedResponse,
  times: StoredTimes,
  now: number,
  label: "HIT" | "STALE",
): Reply {
  const template = templateFor(backend, surrogateKeys, stored, label);
  const ttl = (times.freshUntil - now) / 1000;
  const outcome: CacheStatusOutcome = label === "HIT" ? { kind: "hit", ttl } : { kind: "stale", ttl };
  const extra = {
    age: String(Math.max(0, Math.floor(times.initialAge + (now - times.storedAt) / 1000))),
    "cache-status": withCacheStatus(template.cacheStatus, cacheStatusMember(outcome)),
  };
  const h = template.headers;
  const conditional = requestHeaders["if-none-match"] !== undefined || requestHeaders["if-modified-since"] !== undefined;
  if (conditional && answersNotModified(requestHeaders, { etag: first(h.etag), lastModified: h["last-modified"], date: h.date })) {
    const notModified: Record<string, string | string[]> = {};
    const labelHeader = getHttpSettings().cacheStatusHeader;
    for (const [name, value] of Object.entries(h)) {
      if (NOT_MODIFIED_HEADERS.has(name) || name === labelHeader) notModified[name] = value;
    }
    return { status: 304, headers: notModified, body: undefined, extra, label };
  }
  return { status: template.status, headers: h, body: template.body, text: template.text, extra, label };
}

/** Bodies up to this size are also kept as text (the template holds both). */
const TEXT_BODY_MAX_BYTES = 16 * 1024;

/** The body as UTF-8 text when it is small and its bytes are exactly that text's, else undefined. */
function exactText(body: Buffer): string | undefined {
  if (body.length === 0 || body.length > TEXT_BODY_MAX_BYTES) return undefined;
  const text = body.toString("utf8");
  return Buffer.byteLength(text, "utf8") === body.length && Buffer.from(text, "utf8").equals(body) ? text : undefined;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
