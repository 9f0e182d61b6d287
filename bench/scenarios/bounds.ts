import net from "node:net";
import type { AddressInfo } from "node:net";
import type { BenchContext } from "../context";
import { CacheInvalidationError, configureCachePage, invalidateTag, KeyvCacheBackend, resetCachePageConfig, type CachedResponse, type TagRef } from "../../src";
import { BODY_BYTES } from "../body";
import { runLoad } from "../load";
import type { RedisProbe } from "../redisProbe";
import { ServerProcess } from "../serverProcess";
import { fmt, fmtBytes, fmtInt, fmtMs, fmtRatio, median, msSince } from "../stats";
import { met, type ResultRow, type ScenarioReport } from "../types";

const MiB = 1024 * 1024;
/** The bound the flood runs against: small, so that 200,000 misses pass it several times. */
const FLOOD_MAX_BYTES = 16 * MiB;
/** The default `storeTimeoutMs` (what the down-Redis invalidations are bounded by, plus one second). */
const STORE_TIMEOUT_MS = 300;
/** Timer slack allowed on top of the bound (the deadline is a setTimeout of exactly the bound). */
const TIMER_SLACK_MS = 50;

type Memory = Awaited<ReturnType<ServerProcess["memory"]>>;

/** A flood checkpoint: misses served so far, RSS and heap after GC, what the store accounts for. */
interface FloodReading {
  sent: number;
  rss: number;
  heapUsed: number;
  storeBytes: number | null;
}

async function reading(server: ServerProcess, sent: number): Promise<FloodReading> {
  const m: Memory = await server.memory();
  const { bytes } = await server.command<{ bytes: number | null }>("storeBytes");
  return { sent, rss: m.rss, heapUsed: m.heapUsed, storeBytes: bytes };
}

/**
 * Scenario 8: RSS of a server whose default memory store has `maxBytes` = 16 MiB, under a flood of
 * distinct URLs (each a miss that is stored), against the bound `maxBytes` × 2 + the baseline.
 */
export async function runFloodScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const driver = "koa" as const;
  const total = ctx.quick ? 50_000 : 200_000;
  const step = total / 4;
  const server = await ServerProcess.start({ driver, store: "memory", maxBytes: FLOOD_MAX_BYTES }, `${driver}-memory-flood`);
  try {
    // Warm-up: hits on one URL and a thousand distinct misses, so the miss path is compiled.
    await runLoad({ url: server.url("/cached"), duration: ctx.warmupSeconds, connections: ctx.connections });
    await runLoad({ url: server.url("/cached"), amount: 1000, connections: ctx.connections, uniqueQuery: true });
    const baseline = await reading(server, 0);
    ctx.log(`  baseline: RSS ${fmtBytes(baseline.rss)}, heap ${fmtBytes(baseline.heapUsed)}`);
    const readings: FloodReading[] = [];
    let sent = 0;
    let ok = 0;
    let failed = 0;
    let seconds = 0;
    while (sent < total) {
      const r = await runLoad({ url: server.url("/cached"), amount: step, connections: ctx.connections, uniqueQuery: true, maxSeconds: 300 });
      sent += step;
      ok += r.ok;
      failed += r.failed;
      seconds += r.seconds;
      const at = await reading(server, sent);
      readings.push(at);
      ctx.log(`  after ${fmtInt(sent)} distinct URLs: RSS ${fmtBytes(at.rss)}, heap ${fmtBytes(at.heapUsed)}, store ${fmtBytes(at.storeBytes ?? NaN)}`);
    }
    const after = readings[readings.length - 1];
    const bound = FLOOD_MAX_BYTES * 2 + baseline.rss;
    const stored = BODY_BYTES.length * ok;
    rows.push({
      scenario: `8a. RSS after ${fmtInt(total)} distinct URLs (${driver}, memory store, maxBytes ${fmtBytes(FLOOD_MAX_BYTES)}, after GC)`,
      measured: fmtBytes(after.rss),
      baseline: `${fmtBytes(baseline.rss)} after warm-up`,
      ratio: fmtRatio(after.rss / bound),
      target: `≤ maxBytes × 2 + baseline = ${fmtBytes(bound)}`,
      met: met(after.rss <= bound && ok > 0),
    });
    rows.push({
      scenario: "8b. RSS growth over the flood vs maxBytes (context)",
      measured: fmtBytes(after.rss - baseline.rss),
      baseline: `${fmtBytes(FLOOD_MAX_BYTES)} maxBytes`,
      ratio: fmtRatio((after.rss - baseline.rss) / FLOOD_MAX_BYTES),
      target: "—",
      met: "—",
    });
    rows.push({
      scenario: "8c. Bytes the store accounts for after the flood vs maxBytes (context)",
      measured: fmtBytes(after.storeBytes ?? NaN),
      baseline: `${fmtBytes(FLOOD_MAX_BYTES)} maxBytes`,
      ratio: fmtRatio((after.storeBytes ?? NaN) / FLOOD_MAX_BYTES),
      target: "—",
      met: "—",
    });
    notes.push(
      `${fmtInt(total)} requests to \`/cached?n=<unique>\` (one plain tag), each a miss that is stored, sent by autocannon in ${readings.length} runs of ${fmtInt(step)} with ${ctx.connections} connections and no pipelining (at most ${ctx.connections} in flight): ${fmtInt(ok)} answered 2xx in ${fmt(seconds, 1)} s (${fmtInt(ok / seconds)} misses/s)${failed > 0 ? `, ${fmtInt(failed)} failed` : ""}. The bodies alone add up to ${fmtBytes(stored)}, ${fmtRatio(stored / FLOOD_MAX_BYTES, 0)} the bound.`,
      `Baseline read after ${ctx.warmupSeconds} s of hits on one URL and 1,000 distinct misses (those entries are in the baseline). RSS and heap read over IPC after full GCs, one second of idleness and full GCs again; store bytes are the bounded store's own estimate (\`localBytes()\`).`,
      `Readings (distinct URLs: RSS / heap / store): ${readings.map((r) => `${fmtInt(r.sent)}: ${fmtBytes(r.rss)} / ${fmtBytes(r.heapUsed)} / ${fmtBytes(r.storeBytes ?? NaN)}`).join("; ")}.`,
    );
  } finally {
    await server.stop();
  }
  return { id: "flood", title: "8. Memory store under a flood of distinct URLs", rows, notes };
}

/** What one response costs Redis, with `tagCount` plain tags of its own or shared by every entry. */
interface TagCost {
  tagCount: number;
  shared: boolean;
  entries: number;
  keys: number;
  bytesPerResponse: number;
  ownBytes: number;
}

const HEADERS = { "content-type": "application/json; charset=utf-8" };
const RESPONSE: CachedResponse = { status: 200, headers: HEADERS, body: BODY_BYTES };
const HEADER_BYTES = Object.entries(HEADERS).reduce((n, [k, v]) => n + k.length + v.length, 0);

function tagsOf(i: number, tagCount: number, shared: boolean): TagRef[] {
  return Array.from({ length: tagCount }, (_, j) => ({ name: shared ? `shared-${j}` : `product-${i}-${j}`, versioned: false, versionTimeout: 864000 }));
}

/** Sum of MEMORY USAGE over `keys`, 500 at a time. */
async function memoryOf(probe: RedisProbe, keys: string[]): Promise<number> {
  let bytes = 0;
  for (let i = 0; i < keys.length; i += 500) {
    const sizes = await Promise.all(keys.slice(i, i + 500).map((k) => probe.memoryUsage(k)));
    bytes += sizes.reduce((a, b) => a + b, 0);
  }
  return bytes;
}

/**
 * Stores `entries` responses with `tagCount` plain tags each through a KeyvCacheBackend of a
 * namespace of its own (lookup then set, as a miss does), then sums MEMORY USAGE over every key of
 * that namespace.
 */
async function tagCost(ctx: BenchContext, probe: RedisProbe, tagCount: number, shared: boolean, entries: number): Promise<TagCost> {
  const namespace = `${ctx.namespace}-t${tagCount}${shared ? "s" : ""}`;
  await probe.cleanNamespace(namespace);
  const backend = new KeyvCacheBackend({ store: ctx.redisUrl, namespace });
  let ownTotal = 0;
  try {
    let next = 0;
    const worker = async () => {
      while (next < entries) {
        const i = next++;
        const key = `:/products?category=shoes&page=${100000 + i}`;
        const tags = tagsOf(i, tagCount, shared);
        const { token } = await backend.lookup(key, tags);
        await backend.set({ key, response: RESPONSE, timeout: 600, surrogateKeys: tags.map((t) => t.name), tags, metadata: {}, token });
        ownTotal += BODY_BYTES.length + HEADER_BYTES + key.length + tags.reduce((n, t) => n + t.name.length, 0);
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    const keys = await probe.scan(`${namespace}:*`);
    const bytes = await memoryOf(probe, keys);
    return { tagCount, shared, entries, keys: keys.length, bytesPerResponse: bytes / entries, ownBytes: ownTotal / entries };
  } finally {
    await backend.close();
    await probe.cleanNamespace(namespace);
  }
}

/** Scenario 9: Redis bytes per stored response with 0, 8 and 64 plain tags, against the entry's own size. */
export async function runTagBytesScenario(ctx: BenchContext, probe: RedisProbe): Promise<ScenarioReport> {
  const rows: ResultRow[] = [];
  const entries = ctx.quick ? 200 : 1000;
  const costs: TagCost[] = [];
  for (const [tagCount, shared] of [
    [0, false],
    [8, false],
    [64, false],
    [8, true],
    [64, true],
  ] as const) {
    const cost = await tagCost(ctx, probe, tagCount, shared, entries);
    costs.push(cost);
    ctx.log(`  ${tagCount} ${shared ? "shared" : "own"} tags: ${fmtBytes(cost.bytesPerResponse)} per response (${fmtInt(cost.keys)} keys)`);
  }
  const untagged = costs[0];
  for (const c of costs) {
    rows.push({
      scenario: `9${"abcde"[costs.indexOf(c)]}. Redis bytes per response, ${c.tagCount} plain tags${c.tagCount === 0 ? "" : c.shared ? " shared by every entry" : " of its own"} (MEMORY USAGE)`,
      measured: fmtBytes(c.bytesPerResponse),
      baseline: `${fmtBytes(c.ownBytes)} own size (body + headers + key + tags)`,
      ratio: fmtRatio(c.bytesPerResponse / c.ownBytes),
      target: "— (report; SPEC §5: O(body + headers + key + tags))",
      met: "—",
    });
  }
  const own64 = costs[2];
  const notes = [
    `${fmtInt(entries)} responses per row (the bench's 1 KB JSON body, one content-type header, keys like \`:/products?category=shoes&page=100000\`), each looked up then stored through a \`KeyvCacheBackend\` on Redis in a namespace of its own, 64 in flight; then MEMORY USAGE (SAMPLES 0) summed over every key of that namespace (entries, index and version keys) and divided by the responses. "Own" tags are \`product-<i>-<j>\`, distinct per response (the \`surrogateFromQueryParams\` case); "shared" tags are the same for every response.`,
    `Per own tag, a response costs ${fmtBytes((own64.bytesPerResponse - untagged.bytesPerResponse) / own64.tagCount)} more (64 tags vs none) for ${fmt((own64.ownBytes - untagged.ownBytes) / own64.tagCount, 1)} bytes of tag name; keys per response: ${costs.map((c) => `${c.tagCount}${c.shared ? " shared" : ""}: ${fmt(c.keys / c.entries, 2)}`).join(", ")}.`,
  ];
  return { id: "tag-bytes", title: "9. Redis bytes per stored response", rows, notes };
}

/** A TCP server that accepts connections and never answers (a hung Redis). */
async function blackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP proxy to the bench Redis that can be cut: Redis as the cache sees it when it goes down mid-run. */
async function cuttableProxy(redisUrl: string): Promise<{ port: number; cut(): Promise<void> }> {
  const target = new URL(redisUrl);
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on("error", () => undefined);
    s.on("close", () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname || "127.0.0.1");
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** How one invalidation against a dead store settled. */
interface DownAttempt {
  ms: number;
  rejected: boolean;
  reason: string;
}

async function invalidateDown(tag: string): Promise<DownAttempt> {
  const started = process.hrtime.bigint();
  try {
    await invalidateTag(tag);
    return { ms: msSince(started), rejected: false, reason: "resolved (false success)" };
  } catch (error) {
    const ms = msSince(started);
    if (!(error instanceof CacheInvalidationError)) return { ms, rejected: false, reason: `rejected with ${(error as Error).name}` };
    return { ms, rejected: true, reason: error.failures.map((f) => f.reason).join("+") };
  }
}

/** Times `reps` invalidations against a default backend on `url`, after `prepare` (e.g. cutting a proxy). */
async function downCase(ctx: BenchContext, url: string, reps: number, prepare?: () => Promise<void>): Promise<DownAttempt[]> {
  configureCachePage({ storeTimeoutMs: STORE_TIMEOUT_MS, backends: { default: { backend: "keyv", options: { store: url, namespace: ctx.namespace } } } });
  try {
    await prepare?.();
    const attempts: DownAttempt[] = [];
    for (let i = 0; i < reps; i++) attempts.push(await invalidateDown("bench-down"));
    return attempts;
  } finally {
    await resetCachePageConfig();
  }
}

/**
 * Scenario 10: how long `invalidateTag` takes to reject with a CacheInvalidationError when Redis is
 * down: hung (accepts, never answers), refusing connections, and cut after the client connected.
 */
export async function runRedisDownScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const rows: ResultRow[] = [];
  const reps = ctx.quick ? 3 : 5;
  const bound = STORE_TIMEOUT_MS + 1000;
  const hung = await blackhole();
  const cases: Array<{ label: string; attempts: DownAttempt[] }> = [];
  try {
    cases.push({ label: "hung Redis (a loopback port that accepts and never answers)", attempts: await downCase(ctx, `redis://127.0.0.1:${hung.port}`, reps) });
  } finally {
    await hung.close();
  }
  cases.push({ label: "closed port (connection refused)", attempts: await downCase(ctx, `redis://127.0.0.1:${await closedPort()}`, reps) });
  const proxy = await cuttableProxy(ctx.redisUrl);
  const cutAfterConnect = await downCase(ctx, `redis://127.0.0.1:${proxy.port}`, reps, async () => {
    await invalidateTag("bench-down"); // connected and answering
    await proxy.cut();
  });
  cases.push({ label: "Redis gone after the client connected (a proxy cut)", attempts: cutAfterConnect });
  cases.forEach(({ label, attempts }, i) => {
    const times = attempts.map((a) => a.ms);
    const worst = Math.max(...times);
    const allRejected = attempts.every((a) => a.rejected);
    rows.push({
      scenario: `10${"abc"[i]}. invalidateTag with Redis down: ${label}, slowest of ${attempts.length}`,
      measured: `${fmtMs(worst)} (median ${fmtMs(median(times))})`,
      baseline: `${fmtInt(bound)} ms bound (storeTimeoutMs ${STORE_TIMEOUT_MS} + 1 s)`,
      ratio: fmtRatio(worst / bound),
      target: `CacheInvalidationError within the bound (+${TIMER_SLACK_MS} ms timer slack)`,
      met: met(allRejected && worst <= bound + TIMER_SLACK_MS),
    });
  });
  const notes = [
    `Each case configures a default \`keyv\` backend on the dead Redis with \`storeTimeoutMs: ${STORE_TIMEOUT_MS}\` and calls \`invalidateTag\` ${reps} times one after the other, timed from the call to its rejection; the row is met only when every call rejected with a \`CacheInvalidationError\`.`,
    `Outcomes (ms, failure reason): ${cases.map(({ label, attempts }) => `${label.split(" (")[0]}: ${attempts.map((a) => `${fmt(a.ms, 0)} ${a.reason}`).join(", ")}`).join("; ")}.`,
  ];
  return { id: "redis-down", title: "10. Invalidation with Redis down", rows, notes };
}
