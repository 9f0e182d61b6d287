import { DEFAULT_STORE_TIMEOUT_MS } from "../../src/stores/storeHealth";
import { TcpProxy } from "../../spec/support/tcpProxy";
import type { BenchContext } from "../context";
import { compareInterleaved, type Comparison } from "../compare";
import { profileMarkdown } from "../cpuProfile";
import { runLoad, type LoadResult } from "../load";
import { countCommands, perRequest, type RedisProbe, total } from "../redisProbe";
import type { ServerConfig } from "../server";
import { ServerProcess } from "../serverProcess";
import { fmt, fmtInt, fmtMs, fmtRatio, median, msSince, percentileOfSorted, sleep } from "../stats";
import { met, type ResultRow, type ScenarioReport } from "../types";
import { cpuRow, type HitProfile, profileHits, rpsRow } from "./hits";
import { primeHit } from "./redisHits";

/** The issue's figures are at 50 connections, whatever `--connections` says for the other scenarios. */
const CONNECTIONS = 50;
/** The lease of every local tier here (the library's default). */
const LEASE_MS = 2000;
/** The store timeout every backend here runs with (the default); an invalidation revokes a silent lease after it. */
const STORE_TIMEOUT_MS = DEFAULT_STORE_TIMEOUT_MS;
/** Timer slack allowed on top of a bound (as scenario 10 does). */
const TIMER_SLACK_MS = 50;
/** Pause between two invalidations of a series: the other instances' readers are back in XREAD BLOCK. */
const GAP_MS = 20;
/** How long each partition lasts (invalidations are started during all of it). */
const PARTITION_MS = 3000;

interface TierStatus {
  local: boolean;
  /** The instance's name on the store (its lease key ends with it). */
  id?: string;
  serving: boolean;
  lapses: number;
  entries: number;
}

interface Series {
  ms: number[];
  startedAt: number[];
  errors: string[];
  /** Indexes in `ms` of the calls that rejected (their `ms` is the time to the rejection). */
  failed: number[];
}

const status = (s: ServerProcess) => s.command<TierStatus>("tierStatus");

/** Starts every server at once; those that started are added to `started` (so they are stopped) even when one fails. */
async function startAll(specs: Array<[ServerConfig, string]>, started: ServerProcess[]): Promise<ServerProcess[]> {
  const results = await Promise.allSettled(specs.map(([config, label]) => ServerProcess.start(config, label)));
  for (const r of results) if (r.status === "fulfilled") started.push(r.value);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<ServerProcess>).value);
}

/** `closeCachePage()` in the child (a local tier gives its lease up), then the child exits. */
async function shutdown(server: ServerProcess, started: ServerProcess[]): Promise<void> {
  await server.command("closeCache", undefined, 5_000).catch(() => undefined);
  await server.stop();
  const i = started.indexOf(server);
  if (i >= 0) started.splice(i, 1);
}

async function waitServing(server: ServerProcess, timeoutMs: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (;;) {
    if ((await status(server)).serving) return msSince(started);
    if (msSince(started) > timeoutMs) throw new Error(`${server.label}: its local tier is not serving ${timeoutMs} ms after it was asked to`);
    await sleep(20);
  }
}

async function xcache(server: ServerProcess, pathname: string): Promise<string> {
  const res = await fetch(server.url(pathname));
  await res.arrayBuffer();
  return res.headers.get("x-cache") ?? "";
}

async function inBatches<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}

/**
 * Every server reads every page: the first one computes it, the others read it from Redis (and
 * keep it in their tier), then each reads it again. Returns how many of the second reads were hits.
 */
async function warmPages(servers: ServerProcess[], ids: number[]): Promise<{ hits: number; reads: number }> {
  for (const s of servers) await inBatches(ids, 16, async (id) => void (await xcache(s, `/page/${id}`)));
  await sleep(100); // the last stores finish in the background
  let hits = 0;
  for (const s of servers) {
    await inBatches(ids, 16, async (id) => {
      if ((await xcache(s, `/page/${id}`)) === "HIT") hits++;
    });
  }
  return { hits, reads: servers.length * ids.length };
}

/**
 * Lua: the ms a lease has left on Redis, whichever way the channel keeps it: a record
 * "token expiry watermark" (expiry by the server's clock) in the hash KEYS[1] under ARGV[1], or a
 * key of its own KEYS[2] with a TTL. -2 when there is none.
 */
const LEASE_LEFT = `
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('TYPE', KEYS[1])['ok'] == 'hash' then
  local v = redis.call('HGET', KEYS[1], ARGV[1])
  if not v then return -2 end
  local exp = tonumber(string.match(v, '^%S+ (%d+) '))
  if not exp then return -2 end
  local t = redis.call('TIME')
  return exp - (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
return redis.call('PTTL', KEYS[2])
`;

/** What a partitioned instance's lease has left on Redis, ms (-2: none). */
function leaseLeft(probe: RedisProbe, namespace: string, instance: string): Promise<number> {
  const base = `${namespace}:tier:{${namespace}}`;
  return probe.command("EVAL", LEASE_LEFT, 2, `${base}:leases`, `${base}:lease:${instance}`, instance).then(Number);
}

/**
 * Polls what the lease of `instance` has left until it is within 30 ms below `target` (it falls
 * between renewals, and jumps back up at each), then pauses the proxy at once. Returns what it had left.
 */
async function pauseWhenLeaseAt(probe: RedisProbe, namespace: string, instance: string, target: number, proxy: TcpProxy): Promise<number> {
  const started = process.hrtime.bigint();
  let last = NaN;
  while (msSince(started) < 10_000) {
    last = await leaseLeft(probe, namespace, instance);
    if (last < 0) throw new Error(`the lease of ${instance} is not on Redis (${last})`);
    if (last <= target && last > target - 30) {
      proxy.pause();
      return last;
    }
  }
  throw new Error(`the lease of ${instance} never had ${target} ms left within 10 s (last: ${last} ms)`);
}

function sumCounts(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  const out = new Map(a);
  for (const [name, n] of b) out.set(name, (out.get(name) ?? 0) + n);
  return out;
}

/** Latency buckets (ms) of the invalidation histograms. */
const BUCKETS = [1, 2, 3, 4, 5, 6, 8, 12, 20, 50, Infinity];

/** A markdown table: how many calls of each series fell in each latency bucket. */
function histogram(series: Array<[string, number[]]>): string[] {
  const label = (i: number) => (BUCKETS[i] === Infinity ? `> ${BUCKETS[i - 1]} ms` : `${i === 0 ? 0 : BUCKETS[i - 1]}–${BUCKETS[i]} ms`);
  const lines = [`| latency | ${series.map(([name]) => name).join(" | ")} |`, `|---|${series.map(() => "---:").join("|")}|`];
  BUCKETS.forEach((_, i) => {
    const low = i === 0 ? 0 : BUCKETS[i - 1];
    const counts = series.map(([, values]) => values.filter((v) => v >= low && v < BUCKETS[i]).length);
    lines.push(`| ${label(i)} | ${counts.join(" | ")} |`);
  });
  return lines;
}

function sorted(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}
const p50 = (values: number[]) => percentileOfSorted(sorted(values), 50);
const p99 = (values: number[]) => percentileOfSorted(sorted(values), 99);

/** Commands per second over a window, from a commandstats delta. */
function rate(counts: Map<string, number>, seconds: number): number {
  return total(counts) / seconds;
}

/** `during - rate(idle) × seconds`, per command, divided by `n`; small values left out. */
function netPerUnit(during: Map<string, number>, duringSeconds: number, idle: Map<string, number>, idleSeconds: number, n: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of new Set([...during.keys(), ...idle.keys()])) {
    const net = ((during.get(name) ?? 0) - ((idle.get(name) ?? 0) * duringSeconds) / idleSeconds) / n;
    if (Math.abs(net) >= 0.005) out.set(name, net);
  }
  return out;
}

function describeNet(counts: Map<string, number>): string {
  const parts = [...counts].sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).map(([name, v]) => `${name.toUpperCase()} ${v.toFixed(2)}`);
  return parts.length > 0 ? parts.join(", ") : "none above 0.005";
}

async function timedWindow<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = process.hrtime.bigint();
  const value = await work();
  return { value, seconds: msSince(started) / 1000 };
}

/**
 * Scenario 11 (SPEC §9, the two tiers): local-tier hits against memory-store and Redis-store hits
 * (Express, 50 connections, interleaved rounds), Redis commands per local hit and per idle second,
 * invalidateTag latency with three instances against a plain Redis backend, and the worst case
 * with one instance partitioned from Redis by a pausable TCP proxy.
 */
export async function runTierScenario(ctx: BenchContext, probe: RedisProbe): Promise<ScenarioReport> {
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const details: string[] = [];
  const profiles: HitProfile[] = [];
  const started: ServerProcess[] = [];
  const nsTiers = `${ctx.namespace}-tiers`;
  const nsPlain = `${ctx.namespace}-plain`;
  const redis = new URL(ctx.redisUrl);
  let proxy: TcpProxy | undefined;
  try {
    // ---- 11a–c: hit throughput, 50 connections ----
    const express = { driver: "express", apicache: false } as const;
    const [memory, shared, local] = await startAll(
      [
        [{ ...express, store: "memory" }, "express-memory"],
        [{ ...express, store: "redis", redisUrl: ctx.redisUrl, namespace: ctx.namespace }, "express-redis"],
        [{ ...express, store: "redis", redisUrl: ctx.redisUrl, namespace: ctx.namespace, local: { leaseMs: LEASE_MS } }, "express-redis-local"],
      ],
      started,
    );
    await waitServing(local, 10_000);
    for (const s of [memory, shared, local]) await primeHit(s, "/cached");
    const localState = await status(local);
    if (!localState.serving || localState.entries < 1)
      throw new Error(`the local tier of ${local.label} holds nothing after priming (${JSON.stringify(localState)})`);
    const redisPid = await probe.serverPid();
    ctx.log(`  Express, ${CONNECTIONS} connections: memory-store, Redis-store and local-tier hits`);
    // The three hit kinds, compared the same way at 50 connections (11a–c) and at one (11h).
    const compareHits = (connections: number) =>
      compareInterleaved(
        [
          { name: "memory", url: memory.url("/cached"), pid: memory.pid },
          { name: "redis", url: shared.url("/cached"), pid: shared.pid },
          { name: "local", url: local.url("/cached"), pid: local.pid },
        ],
        {
          rounds: ctx.rounds,
          duration: ctx.duration,
          warmupSeconds: ctx.warmupSeconds,
          connections,
          pids: [memory.pid, shared.pid, local.pid, redisPid],
          log: ctx.log,
        },
      );
    const c: Comparison = await compareHits(CONNECTIONS);
    const vsMemory = rpsRow(
      `11a. Express, ${CONNECTIONS} connections: local-tier hit vs memory-store hit (throughput)`,
      c,
      "local",
      "memory",
      "memory-store hit",
      0.9,
    );
    const vsRedis = rpsRow(
      `11b. Express, ${CONNECTIONS} connections: local-tier hit vs Redis-store hit (throughput)`,
      c,
      "local",
      "redis",
      "Redis-store hit",
      2.0,
    );
    rows.push(vsMemory, vsRedis);
    notes.push(
      `11b: at ${CONNECTIONS} connections each server is bound by its own CPU (one process on a 2-core machine shared with the load generator and redis-server), ` +
        "so throughput follows the server's CPU per request (11b′): beyond a local hit, a Redis-store hit costs the server only the reply's parsing and decoding, " +
        "while the other connections hide its round trip. 11h measures the round trip itself, at one connection.",
    );
    rows.push(cpuRow("11a′. Local-tier hit vs memory-store hit, requests per server CPU-second", c, "local", "memory", "memory-store hit"));
    rows.push(
      cpuRow(
        "11b′. Local-tier hit vs Redis-store hit, requests per server CPU-second (redis-server's CPU not counted)",
        c,
        "local",
        "redis",
        "Redis-store hit",
      ),
    );
    rows.push({
      scenario: "11b″. Local-tier hit vs Redis-store hit, CPU of the whole run per request (server + redis-server + load generator)",
      measured: `${fmtInt(c.runMicrosPerRequest("local"))} µs/req`,
      baseline: `${fmtInt(c.runMicrosPerRequest("redis"))} µs/req (Redis-store hit); ${fmtInt(c.runMicrosPerRequest("memory"))} µs/req (memory-store hit)`,
      ratio: `${fmtRatio(c.runCpuRatio("local", "redis"))} vs Redis; ${fmtRatio(c.runCpuRatio("local", "memory"))} vs memory`,
      target: "— (cross-check)",
      met: "—",
    });
    rows.push({
      scenario: "11c. Hit latency: local tier vs memory store / Redis store (p50 / p99)",
      measured: `p50 ${fmtMs(c.median("local", "p50"))} / p99 ${fmtMs(c.median("local", "p99"))}`,
      baseline: `memory p50 ${fmtMs(c.median("memory", "p50"))} / p99 ${fmtMs(c.median("memory", "p99"))}; Redis p50 ${fmtMs(c.median("redis", "p50"))} / p99 ${fmtMs(c.median("redis", "p99"))}`,
      ratio: `${fmtRatio(c.ratio("local", "memory", "p50"))} / ${fmtRatio(c.ratio("local", "memory", "p99"))} vs memory; ${fmtRatio(c.ratio("local", "redis", "p50"))} / ${fmtRatio(c.ratio("local", "redis", "p99"))} vs Redis`,
      target: "— (lower is better)",
      met: "—",
    });
    const failed = ["memory", "redis", "local"].reduce((sum, n) => sum + c.failed(n), 0);
    if (failed > 0) notes.push(`${failed} requests failed during the hit runs.`);

    // ---- 11h: the same at one connection, where a hit's latency (not the server's CPU) sets the pace ----
    ctx.log("  Express, 1 connection: memory-store, Redis-store and local-tier hits");
    const one: Comparison = await compareHits(1);
    rows.push(rpsRow("11h. Express, 1 connection: local-tier hit vs Redis-store hit (throughput)", one, "local", "redis", "Redis-store hit", undefined));
    rows.push({
      scenario: "11h′. Same, 1 connection: hit latency p50 (local / memory / Redis)",
      measured: `local ${fmtMs(one.median("local", "p50"))}`,
      baseline: `memory ${fmtMs(one.median("memory", "p50"))}; Redis ${fmtMs(one.median("redis", "p50"))}`,
      ratio: `${fmtRatio(one.ratio("local", "memory", "p50"))} vs memory; ${fmtRatio(one.ratio("local", "redis", "p50"))} vs Redis`,
      target: "— (lower is better)",
      met: "—",
    });

    // ---- 11d: Redis commands per local hit ----
    // commandstats counts every client of the shared Redis: the idle rate (others, and this
    // server's own lease renewals and reader) is measured right before, over as long, and after.
    const windowS = ctx.quick ? 3 : 5;
    ctx.log(`  Redis commands per local hit (${windowS} s idle, ${windowS} s of hits, ${windowS} s idle)`);
    const idleBefore = await timedWindow(() => countCommands(probe, () => sleep(windowS * 1000)));
    let hitRun: LoadResult | undefined;
    let onCacheKeys = { sent: new Map<string, number>(), inScripts: new Map<string, number>() };
    const during = await timedWindow(() =>
      countCommands(probe, async () => {
        onCacheKeys = await probe.monitor(
          `${ctx.namespace}:`,
          async () => {
            hitRun = await runLoad({ url: local.url("/cached"), duration: windowS, connections: CONNECTIONS });
          },
          ":tier:{",
        );
      }, ["info", "monitor"]),
    );
    const idleAfter = await timedWindow(() => countCommands(probe, () => sleep(windowS * 1000)));
    const hits = hitRun!.ok;
    const idleRate = rate(idleBefore.value, idleBefore.seconds);
    const afterRate = rate(idleAfter.value, idleAfter.seconds);
    const perHit = (total(during.value) - idleRate * during.seconds) / hits;
    const noisePerHit = (Math.abs(afterRate - idleRate) * during.seconds) / hits;
    const onKeys = total(onCacheKeys.sent) + total(onCacheKeys.inScripts);
    rows.push({
      scenario: "11d. Redis commands per local hit (INFO commandstats delta minus the idle rate measured right before, / hits)",
      measured: `${fmt(perHit, 3)} (${describeNet(netPerUnit(during.value, during.seconds, idleBefore.value, idleBefore.seconds, hits))})`,
      baseline: `idle ${fmt(idleRate, 1)} commands/s before, ${fmt(afterRate, 1)} after (± ${fmt(noisePerHit, 3)} per hit)`,
      ratio: "—",
      target: "0 (below 0.05, the noise of a shared Redis)",
      met: met(Math.abs(perHit) < 0.05 && onKeys === 0),
    });
    rows.push({
      scenario: "11d′. Same window with MONITOR: commands on the cache's keys (entries, versions, index; tier keys left out) per local hit",
      measured: `${fmt(onKeys / hits, 4)} (${fmtInt(onKeys)} for ${fmtInt(hits)} hits: sent ${perRequest(onCacheKeys.sent, hits)}; in Lua ${perRequest(onCacheKeys.inScripts, hits)})`,
      baseline: "—",
      ratio: "—",
      target: "0 (cross-check)",
      met: "—",
    });
    notes.push(
      `11a–c: three Express servers, each in a process of its own and idle while another is measured: the default \`KeyvCacheBackend\` in memory; \`store: "${ctx.redisUrl}"\` (namespace \`${ctx.namespace}\`); and the same with \`local: { leaseMs: ${LEASE_MS} }\`. The route is \`@CachePage({ timeout: 600, keyFunc: generateCacheKey, tags: ["products"] })\`, the body the same JSON of about 1 KB as scenario 1. ${CONNECTIONS} connections, no pipelining; ${ctx.rounds} rounds of ${ctx.duration} s per target after ${ctx.warmupSeconds} s of warm-up, the order rotating each round; ratios are medians of per-round ratios. The ′ rows divide requests by the server's own CPU time (/proc); the Redis-store server's figure leaves out what redis-server spent. Other processes used ${c.othersCores.toFixed(2)} cores on average while measuring (redis-server counted as ours).`,
      `11d: ${fmtInt(hits)} local hits in ${fmt(hitRun!.seconds, 1)} s. commandstats counts every client of the shared Redis (and commands run inside Lua), so the idle rate measured over ${fmt(idleBefore.seconds, 1)} s right before (${fmt(idleRate, 1)}/s: other clients, and this server's lease renewals and log reads) is subtracted over the ${fmt(during.seconds, 1)} s window; the same idle window right after read ${fmt(afterRate, 1)}/s, which bounds the noise (± ${fmt(noisePerHit, 3)} per hit). The target is met when the result is within noise (below 0.05; one command per hit would read 1.00) and MONITOR saw no command on the cache's data keys. A Redis-store hit costs 2 (scenario 2c).`,
    );
    if (vsMemory.met === "no" || vsRedis.met === "no") {
      profiles.push(await profileHits(ctx, local, "express", "/cached", "local-tier-hit", CONNECTIONS));
      if (vsMemory.met === "no") profiles.push(await profileHits(ctx, memory, "express", "/cached", "memory-hit", CONNECTIONS));
      if (vsRedis.met === "no") profiles.push(await profileHits(ctx, shared, "express", "/cached", "redis-hit", CONNECTIONS));
    }
    for (const s of [memory, shared, local]) await shutdown(s, started);

    // ---- 11e: idle commands per instance ----
    const idleS = ctx.quick ? 5 : 10;
    ctx.log(`  Redis commands while idle: ${idleS} s with none of ours running, then ${idleS} s with three idle instances`);
    // Two background windows back to back: how far apart they are is the noise of the figure.
    const background1 = await timedWindow(() => countCommands(probe, () => sleep((idleS * 1000) / 2)));
    const background2 = await timedWindow(() => countCommands(probe, () => sleep((idleS * 1000) / 2)));
    const background = { value: sumCounts(background1.value, background2.value), seconds: background1.seconds + background2.seconds };
    const tierConfig = (redisUrl: string): ServerConfig => ({
      driver: "express",
      store: "redis",
      redisUrl,
      namespace: nsTiers,
      local: { leaseMs: LEASE_MS },
      apicache: false,
      tierPages: true,
    });
    const [a, b, c3] = await startAll(
      [
        [tierConfig(ctx.redisUrl), "tier-a"],
        [tierConfig(ctx.redisUrl), "tier-b"],
        [tierConfig(ctx.redisUrl), "tier-c"],
      ],
      started,
    );
    const tiered = [a, b, c3];
    for (const s of tiered) await waitServing(s, 10_000);
    await sleep(1000);
    let idleMonitor = { sent: new Map<string, number>(), inScripts: new Map<string, number>() };
    const idle3 = await timedWindow(() =>
      countCommands(probe, async () => {
        idleMonitor = await probe.monitor(`${nsTiers}:`, () => sleep(idleS * 1000));
      }, ["info", "monitor"]),
    );
    const bgRate = rate(background.value, background.seconds);
    const perInstanceSecond = (total(idle3.value) - bgRate * idle3.seconds) / 3 / idle3.seconds;
    const monitorPerInstance = (m: Map<string, number>) => total(m) / 3 / idle3.seconds;
    /** What MONITOR saw per instance-second (commands without a key, TIME in the scripts, are not in it). */
    const monitored = monitorPerInstance(idleMonitor.sent) + monitorPerInstance(idleMonitor.inScripts);
    const bgNoise = Math.abs(rate(background1.value, background1.seconds) - rate(background2.value, background2.seconds)) / 3;
    rows.push({
      scenario: "11e. Redis commands per idle second per instance with a local tier (lease renewals, log reads; commandstats minus the background)",
      measured:
        `${fmt(perInstanceSecond, 2)}/s (${describeNet(netPerUnit(idle3.value, idle3.seconds, background.value, background.seconds, 3 * idle3.seconds))})` +
        (bgNoise > 0.2 * Math.abs(perInstanceSecond) || Math.abs(perInstanceSecond - monitored) > 0.5 * monitored
          ? " — **other clients' traffic changed during the window (it disagrees with MONITOR, 11e′): not a usable figure**"
          : ""),
      baseline: `background ${fmt(bgRate, 1)}/s with none of ours running (two halves ${fmt(rate(background1.value, background1.seconds), 1)} / ${fmt(rate(background2.value, background2.seconds), 1)}/s: ± ${fmt(bgNoise, 1)} per instance-second)`,
      ratio: "—",
      target: "— (report)",
      met: "—",
    });
    rows.push({
      scenario: "11e′. Same, with MONITOR (commands naming a key of the tier namespace): sent by each instance / run inside Lua, per second",
      measured: `${fmt(monitorPerInstance(idleMonitor.sent), 2)}/s sent (${perRequest(idleMonitor.sent, 3 * idle3.seconds)}) / ${fmt(monitorPerInstance(idleMonitor.inScripts), 2)}/s in Lua (${perRequest(idleMonitor.inScripts, 3 * idle3.seconds)})`,
      baseline: `lease renewal every ${fmt(LEASE_MS / 3, 0)} ms, XREAD BLOCK ${Math.max(50, LEASE_MS / 2)} ms`,
      ratio: "—",
      target: "— (cross-check)",
      met: "—",
    });

    // ---- 11f: invalidateTag latency, 3 instances vs a plain Redis backend ----
    const [plain] = await startAll(
      [[{ driver: "express", store: "redis", redisUrl: ctx.redisUrl, namespace: nsPlain, apicache: false, tierPages: true }, "plain-redis"]],
      started,
    );
    const rounds = ctx.quick ? 3 : 6;
    const perRound = ctx.quick ? 30 : 50;
    ctx.log(`  invalidateTag: ${rounds} rounds of ${perRound} from one of three instances with local tiers, and from a plain Redis backend, alternating`);
    const tierTimes: number[][] = [];
    const plainTimes: number[][] = [];
    const errors: string[] = [];
    let warmHits = 0;
    let warmReads = 0;
    let missesAfter = 0;
    let checkedAfter = 0;
    for (let round = 0; round < rounds; round++) {
      const ids = Array.from({ length: perRound }, (_, i) => (round + 1) * 1000 + i);
      const tags = ids.map((id) => `page-${id}`);
      const warm = await warmPages(tiered, ids);
      warmHits += warm.hits;
      warmReads += warm.reads;
      await warmPages([plain], ids);
      await sleep(200);
      const runTiers = async () => {
        const s = await a.command<Series>("invalidate", { tags, gapMs: GAP_MS });
        tierTimes.push(s.ms);
        errors.push(...s.errors);
        // Every instance now misses an invalidated page (a local hit a moment ago): each asks for a
        // page of its own, so that none is recomputed by another instance first.
        for (const [k, inst] of tiered.entries()) {
          checkedAfter++;
          if ((await xcache(inst, `/page/${ids[k]}`)) === "MISS") missesAfter++;
        }
      };
      const runPlain = async () => {
        const s = await plain.command<Series>("invalidate", { tags, gapMs: GAP_MS });
        plainTimes.push(s.ms);
        errors.push(...s.errors);
      };
      if (round % 2 === 0) {
        await runTiers();
        await runPlain();
      } else {
        await runPlain();
        await runTiers();
      }
      ctx.log(
        `    round ${round + 1}/${rounds}: 3 instances p50 ${fmtMs(p50(tierTimes.at(-1)!))} p99 ${fmtMs(p99(tierTimes.at(-1)!))}; plain p50 ${fmtMs(p50(plainTimes.at(-1)!))} p99 ${fmtMs(p99(plainTimes.at(-1)!))}`,
      );
    }
    const allTiers = tierTimes.flat();
    const allPlain = plainTimes.flat();
    const roundRatio = (f: (v: number[]) => number) => median(tierTimes.map((t, i) => f(t) / f(plainTimes[i])));
    const tierP50 = p50(allTiers);
    rows.push({
      scenario: `11f. invalidateTag with 3 instances with local tiers (warm), issued from one of them, ${fmtInt(allTiers.length)} calls: p50 / p99`,
      measured: `p50 ${fmtMs(tierP50)} / p99 ${fmtMs(p99(allTiers))} (max ${fmtMs(Math.max(...allTiers))})`,
      baseline: `p50 ${fmtMs(p50(allPlain))} / p99 ${fmtMs(p99(allPlain))} (plain Redis backend, no local tiers, ${fmtInt(allPlain.length)} calls)`,
      ratio: `${fmtRatio(roundRatio(p50))} / ${fmtRatio(roundRatio(p99))}`,
      target: "p50 ≤ 5 ms",
      met: met(tierP50 <= 5 && errors.length === 0 && missesAfter === checkedAfter),
    });
    details.push(
      "Invalidation latency, calls per bucket (11f):",
      "",
      ...histogram([
        ["3 instances with local tiers", allTiers],
        ["plain Redis backend", allPlain],
      ]),
      "",
    );
    notes.push(
      `11e: three idle Express instances with \`local: { leaseMs: ${LEASE_MS} }\` on namespace \`${nsTiers}\`, ${fmt(idle3.seconds, 1)} s; commandstats counts the commands Lua scripts run too, MONITOR tells them apart but sees only commands that name a key of the namespace (not TIME inside the scripts); other clients of the shared Redis do not count in it. The background rate was measured over ${fmt(background.seconds, 1)} s just before the instances started. A plain Redis backend sends nothing while idle.`,
      `11f: instances A, B, C (separate processes, \`local: { leaseMs: ${LEASE_MS} }\`, namespace \`${nsTiers}\`) serve \`/page/:id\` (\`@CachePage({ timeout: 600, keyFunc: (req) => \`page-\${req.params.id}\`, tags: [(req) => \`page-\${req.params.id}\`] })\`: one key for every instance). Before each round the ${perRound} pages of the round are read twice on every instance (${fmtInt(warmHits)} of ${fmtInt(warmReads)} second reads were hits), so each page's entry is in Redis and in the three tiers; then A calls \`invalidateTag("page-<id>")\` for each, one after the other, ${GAP_MS} ms apart, timed in A's process from the call to its resolving. The baseline is the same on one Express process with the plain Redis backend (namespace \`${nsPlain}\`, same pages, warmed the same way), whose invalidations still append to the log (no lease to wait for). Rounds alternate which goes first; ratios are medians of per-round ratios. After each round's invalidations one invalidated page was requested on every instance: ${missesAfter} of ${checkedAfter} were misses, as they must be.${errors.length > 0 ? ` **${errors.length} invalidations failed**, e.g. ${errors[0]}.` : ""}`,
    );

    // ---- 11g: one instance partitioned ----
    ctx.log("  partition: instance C replaced by one reaching Redis through a pausable TCP proxy");
    await shutdown(c3, started);
    proxy = await TcpProxy.start({ targetHost: redis.hostname || "127.0.0.1", targetPort: Number(redis.port || 6379) });
    const [cp] = await startAll([[tierConfig(proxy.url), "tier-c-proxied"]], started);
    const group = [a, b, cp];
    await waitServing(cp, 10_000);
    // Each partition starts when C's lease has this much left on Redis (ms): right after a
    // renewal (the worst case: the invalidation waits out nearly a whole lease), then later phases.
    const pauseAtPttl = ctx.quick ? [1990] : [1990, 1850, 1700, 1550, 1400];
    const partitions = pauseAtPttl.length;
    const cId = (await status(cp)).id;
    if (!cId) throw new Error(`${cp.label} has no local tier`);
    const pttls: number[] = [];
    const inPartition: number[] = [];
    /** Time to the rejection of the calls that rejected. */
    const rejectedMs: number[] = [];
    const firsts: number[] = [];
    const recoveries: number[] = [];
    const partitionErrors: string[] = [];
    let lapses = 0;
    for (let p = 0; p < partitions; p++) {
      for (const s of group) await waitServing(s, 10_000);
      const ids = Array.from({ length: 40 }, (_, i) => 100_000 + p * 1000 + i);
      await warmPages(group, ids);
      // The warmed pages' tags first, then fresh ones: more than the partition has time for.
      const tags = Array.from({ length: 1000 }, (_, i) => `page-${100_000 + p * 1000 + i}`);
      const before = (await status(cp)).lapses;
      pttls.push(await pauseWhenLeaseAt(probe, nsTiers, cId, pauseAtPttl[p], proxy));
      const pausedAt = process.hrtime.bigint();
      let s: Series;
      try {
        s = await a.command<Series>("invalidate", { tags, gapMs: GAP_MS, untilMs: PARTITION_MS });
      } finally {
        proxy.resume();
      }
      const partitionMs = msSince(pausedAt);
      inPartition.push(...s.ms);
      rejectedMs.push(...s.failed.map((i) => s.ms[i]));
      firsts.push(s.ms[0]);
      partitionErrors.push(...s.errors);
      const recovered = await waitServing(cp, 15_000);
      recoveries.push(recovered);
      lapses += (await status(cp)).lapses - before;
      ctx.log(
        `    partition ${p + 1}/${partitions} (${fmt(partitionMs, 0)} ms, C's lease had ${pttls.at(-1)} ms left at the pause): ${s.ms.length} invalidations, first ${fmtMs(s.ms[0])}${s.failed.includes(0) ? " (rejected)" : ""}, max ${fmtMs(Math.max(...s.ms))}, p50 ${fmtMs(p50(s.ms))}, ${s.failed.length} rejected; C serving again ${fmt(recovered, 0)} ms after the partition ended`,
      );
    }
    const bound = LEASE_MS + STORE_TIMEOUT_MS;
    const worst = Math.max(...inPartition);
    rows.push({
      scenario: `11g. invalidateTag with 1 of 3 instances partitioned from Redis (TCP proxy paused), worst of ${fmtInt(inPartition.length)} started during ${partitions} partition(s)`,
      measured:
        `max ${fmtMs(worst)} (first call of each partition, by what C's lease had left at the pause: ${firsts.map((f, i) => `${pttls[i]} ms left → ${fmtMs(f)}`).join(", ")})` +
        (rejectedMs.length > 0
          ? `; **${rejectedMs.length} rejected** with CacheInvalidationError after ${rejectedMs.map((f) => fmtMs(f)).join(", ")}`
          : "; none rejected"),
      baseline: `${fmtInt(bound)} ms bound (leaseMs ${LEASE_MS} + store timeout ${STORE_TIMEOUT_MS})`,
      ratio: fmtRatio(worst / bound),
      target: `resolves within leaseMs + store timeout (+${TIMER_SLACK_MS} ms timer slack)`,
      met: met(worst <= bound + TIMER_SLACK_MS && partitionErrors.length === 0),
    });
    rows.push({
      scenario: "11g′. Same invalidations: p50 (after the first, the partitioned lease is revoked and no longer waited for)",
      measured: `p50 ${fmtMs(p50(inPartition))} / p99 ${fmtMs(p99(inPartition))}`,
      baseline: `p50 ${fmtMs(tierP50)} with no partition (11f)`,
      ratio: fmtRatio(p50(inPartition) / tierP50),
      target: "— (report)",
      met: "—",
    });
    notes.push(
      `11g: instance C is replaced by one whose Redis connections (commands and log reader) go through a TCP proxy in the bench process (spec/support/tcpProxy.ts); pausing it holds every byte in both directions without closing anything, as a network partition does. Each partition: the pages are warmed on A, B and C, the proxy is paused when C's lease has ${pauseAtPttl.join(", ")} ms left on Redis (polled by the bench; ${pauseAtPttl[0]}: right after a renewal, the worst case), A calls \`invalidateTag\` on fresh tags ${GAP_MS} ms apart for ${PARTITION_MS} ms, then the proxy resumes. The first call waits the store timeout for C's acknowledgement, revokes C's lease and waits out what it had left (so it should take about what the lease had left at the pause); the calls after it no longer wait for C. C found its lease lapsed ${lapses} time(s) on reconnecting (its tier was cleared) and served local hits again ${recoveries.map((r) => fmt(r, 0)).join(", ")} ms after the partitions ended.${partitionErrors.length > 0 ? ` **${partitionErrors.length} invalidations failed**, e.g. ${partitionErrors[0]}.` : ""}`,
    );
  } finally {
    for (const s of [...started]) await shutdown(s, started).catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    for (const ns of [nsTiers, nsPlain]) await probe.cleanNamespace(ns).catch(() => undefined);
  }
  if (profiles.length > 0) {
    details.push(
      "A throughput target was missed, so the servers were profiled (`node:inspector` CPU profiler in the child, 5 s of load right after the rounds):",
      "",
    );
  }
  for (const p of profiles) details.push(...profileMarkdown(`CPU profile: ${p.driver}`, p.summary), "");
  return { id: "tiers", title: "11. Two tiers: local tier in front of Redis", rows, notes, details };
}
