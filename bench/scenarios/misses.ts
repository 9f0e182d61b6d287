import type { BenchContext } from "../context";
import { compareInterleaved, type Comparison } from "../compare";
import { runLoad } from "../load";
import { countCommands, perRequest, RedisProbe, total } from "../redisProbe";
import { ServerProcess } from "../serverProcess";
import { fmt, fmtInt, fmtMs, fmtRatio, median, sleep } from "../stats";
import type { ResultRow, ScenarioReport } from "../types";

const DELAY_MS = 20;

/** Median over rounds of (miss - uncached) for a latency metric, ms. */
function extra(c: Comparison, metric: "p50" | "p99"): number {
  const miss = c.runs.get("miss")!;
  const uncached = c.runs.get("uncached")!;
  return median(miss.map((r, i) => r[metric] - uncached[i][metric]));
}

function compareMisses(ctx: BenchContext, server: ServerProcess, pids: number[], connections: number, warmupSeconds: number): Promise<Comparison> {
  return compareInterleaved(
    [
      { name: "uncached", url: server.url("/slow-bare"), uniqueQuery: true },
      { name: "miss", url: server.url("/slow-cached"), uniqueQuery: true },
    ],
    { rounds: ctx.rounds, duration: ctx.duration, warmupSeconds, connections, pids, log: ctx.log },
  );
}

function missRow(scenario: string, c: Comparison): ResultRow {
  const signed = (ms: number) => `${ms >= 0 ? "+" : "−"}${fmtMs(Math.abs(ms))}`;
  return {
    scenario,
    measured: `${signed(extra(c, "p50"))} p50 (${signed(extra(c, "p99"))} p99); miss p50 ${fmtMs(c.median("miss", "p50"))}`,
    baseline: `p50 ${fmtMs(c.median("uncached", "p50"))} (same action uncached, ${DELAY_MS} ms delay)`,
    ratio: fmtRatio(c.ratio("miss", "uncached", "p50"), 3),
    target: "— (report)",
    met: "—",
  };
}

/** Both comparisons for one store: 1 connection (the cache's own cost) and under load. */
async function measureStore(
  ctx: BenchContext,
  server: ServerProcess,
  pids: number[],
  label: string,
  rows: ResultRow[],
  notes: string[],
  first: string,
): Promise<void> {
  ctx.log(`  ${label}, 1 connection`);
  const single = await compareMisses(ctx, server, pids, 1, ctx.warmupSeconds);
  rows.push(missRow(`${first}. Miss overhead, ${label}: extra latency per miss, 1 connection`, single));
  ctx.log(`  ${label}, ${ctx.connections} connections`);
  const loaded = await compareMisses(ctx, server, pids, ctx.connections, 0);
  rows.push(missRow(`${first}′. Miss overhead, ${label}: same with ${ctx.connections} connections (context)`, loaded));
  notes.push(
    `${label}: misses at ${fmtInt(single.median("miss", "rps"))} / ${fmtInt(loaded.median("miss", "rps"))} req/s (1 / ${ctx.connections} connections); other processes used ${single.othersCores.toFixed(2)} / ${loaded.othersCores.toFixed(2)} cores on average${pids.length > 1 ? " (redis-server counted as ours)" : ""}.`,
  );
}

/**
 * Scenario 3: an action with a fixed delay, cached with a key unique per request (a counter in
 * the query string, so every request is a miss that is stored), against the same action uncached.
 */
export async function runMissScenario(ctx: BenchContext, probe: RedisProbe | undefined): Promise<ScenarioReport> {
  const rows: ResultRow[] = [];
  const notes: string[] = [
    `Both actions wait ${DELAY_MS} ms and return the same body; every request carries \`?n=<counter>\`, and the cached one uses \`keyFunc: generateCacheKey\` with one plain tag, so each request is a miss that is stored (entry + index membership, after the response went out). The extra time is the median over rounds of (miss − uncached) latency, runs back to back. With 1 connection the server is idle between requests, so the difference is the cache's own cost; with ${ctx.connections} connections it also includes waiting for CPU, which on this shared 2-core machine (server, load generator and Redis on 2 cores) grows with every extra process that must run per request.`,
  ];

  const memory = await ServerProcess.start({ driver: "express", store: "memory", delayMs: DELAY_MS, apicache: false }, "express-memory-miss");
  try {
    await measureStore(ctx, memory, [memory.pid], "memory store", rows, notes, "3a");
  } finally {
    await memory.stop();
  }

  if (!probe) {
    rows.push({ scenario: "3b. Miss overhead, Redis", measured: "not measured: Redis unavailable", baseline: "—", ratio: "—", target: "—", met: "—" });
    return { id: "misses", title: "3. Miss overhead", rows, notes };
  }
  const redis = await ServerProcess.start(
    { driver: "express", store: "redis", redisUrl: ctx.redisUrl, namespace: ctx.namespace, delayMs: DELAY_MS, apicache: false },
    "express-redis-miss",
  );
  try {
    await measureStore(ctx, redis, [redis.pid, await probe.serverPid()], "Redis store", rows, notes, "3b");
    const n = ctx.quick ? 500 : 2000;
    let served = 0;
    let monitored = { sent: new Map<string, number>(), inScripts: new Map<string, number>() };
    const background = await countCommands(probe, () => sleep(2000));
    const counts = await countCommands(probe, async () => {
      monitored = await probe.monitor(`${ctx.namespace}:`, async () => {
        const r = await runLoad({ url: redis.url("/slow-cached"), amount: n, connections: ctx.connections, uniqueQuery: true });
        served = r.ok;
        await sleep(500); // entries are written after the response went out
      });
    }, ["info", "monitor"]);
    const scripts = counts.get("evalsha") ?? 0;
    rows.push({
      scenario: "3c. Redis commands per miss (INFO commandstats delta / misses)",
      measured: `${fmt(total(counts) / served)} (${perRequest(counts, served)})`,
      baseline: "— (2c gives a hit's)",
      ratio: "—",
      target: "— (report)",
      met: "—",
    });
    rows.push({
      scenario: "3c′. Same, attributed with MONITOR (bench keys only): sent by the server / run inside Lua",
      measured: `${fmt(total(monitored.sent) / served)} sent (${perRequest(monitored.sent, served)}) / ${fmt(total(monitored.inScripts) / served)} in Lua (${perRequest(monitored.inScripts, served)})`,
      baseline: "—",
      ratio: "—",
      target: "— (cross-check)",
      met: "—",
    });
    notes.push(
      `Commands per miss over ${fmtInt(served)} misses (a hit's in 2c). commandstats counts every client of this shared Redis (${fmt(total(background) / 2, 1)} commands/s from others were measured just before) and also the commands Lua scripts run inside Redis; the ′ row, from MONITOR on keys under \`${ctx.namespace}:\` only, separates what the server sent (${fmt(scripts / served)} EVALSHA per miss by commandstats) from what ran inside the scripts. Commands sent together (the entry and the versions on lookup, the entry and the index on store) share one round trip thanks to node-redis' automatic pipelining.`,
    );
  } finally {
    await redis.stop();
  }
  return { id: "misses", title: "3. Miss overhead", rows, notes };
}
