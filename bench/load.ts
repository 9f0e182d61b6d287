import { percentileOfSorted } from "./stats";

/** The part of autocannon's programmatic API the bench uses (autocannon ships no types). */
interface AutocannonRequest {
  method?: string;
  path?: string;
  setupRequest?: (request: { path: string; [k: string]: unknown }) => { path: string; [k: string]: unknown };
}
interface AutocannonOptions {
  url: string;
  connections: number;
  pipelining: number;
  duration?: number;
  amount?: number;
  timeout?: number;
  requests?: AutocannonRequest[];
}
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
}
interface AutocannonInstance extends PromiseLike<AutocannonResult> {
  stop(): void;
  on(event: "response", listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require("autocannon") as (options: AutocannonOptions) => AutocannonInstance;

/** One load run against one URL. */
export interface LoadOptions {
  /** Full URL, e.g. `http://127.0.0.1:40123/cached`. */
  url: string;
  connections?: number;
  pipelining?: number;
  /** Seconds; ignored when `amount` is given. */
  duration?: number;
  /** Total number of requests instead of a duration. */
  amount?: number;
  /** With `amount`: stop anyway after this many seconds (autocannon can wait forever for lost responses). */
  maxSeconds?: number;
  /** Appends `?n=<counter>` (or `&n=`) so that every request has a URL of its own. */
  uniqueQuery?: boolean;
}

/** What one run measured. */
export interface LoadResult {
  /** 2xx responses. */
  ok: number;
  /** Errors, timeouts and non-2xx responses. */
  failed: number;
  seconds: number;
  /** 2xx responses per second. */
  rps: number;
  /** Latency percentiles in ms, from autocannon's per-response times (sub-millisecond resolution). */
  p50: number;
  p99: number;
}

let uniqueCounter = 0;

/**
 * Runs autocannon in this process (the server under test runs in a child process, so load
 * generation and serving never share an event loop). Latencies are taken from autocannon's
 * `response` events as floats, because its own histogram rounds to whole milliseconds.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.url);
  const base = `${url.protocol}//${url.host}`;
  const path = `${url.pathname}${url.search}`;
  const sep = path.includes("?") ? "&" : "?";
  const requests: AutocannonRequest[] | undefined = options.uniqueQuery
    ? [{ method: "GET", path, setupRequest: (req) => ({ ...req, path: `${path}${sep}n=${process.pid}-${uniqueCounter++}` }) }]
    : undefined;
  const latencies: number[] = [];
  const instance = autocannon({
    url: `${base}${path}`,
    connections: options.connections ?? 10,
    pipelining: options.pipelining ?? 1,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.duration ?? 3 }),
    timeout: 10,
    ...(requests ? { requests } : {}),
  });
  instance.on("response", (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const guard = options.amount !== undefined ? setTimeout(() => instance.stop(), (options.maxSeconds ?? 60 + options.amount / 500) * 1000) : undefined;
  const result = await instance;
  if (guard) clearTimeout(guard);
  const sorted = Float64Array.from(latencies).sort();
  const ok = result["2xx"];
  return {
    ok,
    failed: result.errors + result.timeouts + result.non2xx,
    seconds: result.duration,
    rps: ok / result.duration,
    p50: percentileOfSorted(sorted, 50),
    p99: percentileOfSorted(sorted, 99),
  };
}
