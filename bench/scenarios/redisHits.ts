import type { BenchContext } from "../context";
import { compareInterleaved } from "../compare";
import { runLoad } from "../load";
import { countCommands, perRequest, RedisProbe, total } from "../redisProbe";
import { ServerProcess } from "../serverProcess";
import { fmt, fmtInt, fmtMs, fmtRatio, sleep } from "../stats";
import type { ResultRow, ScenarioReport } from "../types";

/** Waits until `pathname` answers `X-Cache: HIT`. */
export async function primeHit(server: ServerProcess, pathname: string): Promise<void> {
  let last = "";
  for (let i = 0; i < 20; i++) {
    const res = await fetch(server.url(pathname));
    await res.arrayBuffer();
    last = res.headers.get("x-cache") ?? "";
    if (last === "HIT") return;
    await sleep(50);
  }
  throw new Error(`${pathname} on ${server.label} never answered X-Cache: HIT (last: "${last}")`);
}

/**
 * Scenario 2: hits from Redis (`configureCachePage` with the Keyv backend on
 * redis://127.0.0.1:6379, namespace "bench") against the bare action, and Redis commands per hit.
 */
export async function runRedisHitScenario(ctx: BenchContext, probe: RedisProbe): Promise<ScenarioReport> {
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const server = await ServerProcess.start({ driver: "express", store: "redis", redisUrl: ctx.redisUrl, namespace: ctx.namespace }, "express-redis");
  try {
    await primeHit(server, "/cached");
    const pids = [server.pid, await probe.serverPid()];
    const targets = [
      { name: "bare", url: server.url("/bare") },
      { name: "hit", url: server.url("/cached") },
    ];
    ctx.log("  one connection (latency without queueing)");
    const single = await compareInterleaved(targets, {
      rounds: ctx.rounds,
      duration: ctx.duration,
      warmupSeconds: ctx.warmupSeconds,
      connections: 1,
      pids,
      log: ctx.log,
    });
    rows.push({
      scenario: "2a. Redis hit latency vs bare action, 1 connection",
      measured: `p50 ${fmtMs(single.median("hit", "p50"))} / p99 ${fmtMs(single.median("hit", "p99"))}`,
      baseline: `p50 ${fmtMs(single.median("bare", "p50"))} / p99 ${fmtMs(single.median("bare", "p99"))} (bare action)`,
      ratio: `${fmtRatio(single.ratio("hit", "bare", "p50"))} / ${fmtRatio(single.ratio("hit", "bare", "p99"))}`,
      target: "— (report)",
      met: "—",
    });
    ctx.log(`  ${ctx.connections} connections (throughput)`);
    const loaded = await compareInterleaved(targets, {
      rounds: ctx.rounds,
      duration: ctx.duration,
      warmupSeconds: 0,
      connections: ctx.connections,
      pids,
      log: ctx.log,
    });
    rows.push({
      scenario: `2b. Redis hit vs bare action, ${ctx.connections} connections (throughput; latency p50 / p99)`,
      measured: `${fmtInt(loaded.median("hit", "rps"))} req/s; ${fmtMs(loaded.median("hit", "p50"))} / ${fmtMs(loaded.median("hit", "p99"))}`,
      baseline: `${fmtInt(loaded.median("bare", "rps"))} req/s; ${fmtMs(loaded.median("bare", "p50"))} / ${fmtMs(loaded.median("bare", "p99"))} (bare action)`,
      ratio: `${fmtRatio(loaded.ratio("hit", "bare", "rps"))}; ${fmtRatio(loaded.ratio("hit", "bare", "p50"))} / ${fmtRatio(loaded.ratio("hit", "bare", "p99"))}`,
      target: "— (report)",
      met: "—",
    });

    // Commands per hit: commandstats deltas over a run with a known number of requests. The
    // background rate (other clients of this shared Redis) is measured first, over 2 s.
    const background = await countCommands(probe, () => sleep(2000));
    const n = ctx.quick ? 5000 : 20000;
    let served = 0;
    let seconds = 0;
    let monitored = { sent: new Map<string, number>(), inScripts: new Map<string, number>() };
    const counts = await countCommands(probe, async () => {
      monitored = await probe.monitor(`${ctx.namespace}:`, async () => {
        const r = await runLoad({ url: server.url("/cached"), amount: n, connections: ctx.connections });
        served = r.ok;
        seconds = r.seconds;
      });
    }, ["info", "monitor"]);
    const perHit = total(counts) / served;
    const noisePerSecond = total(background) / 2;
    const bareCounts = await countCommands(probe, async () => {
      await runLoad({ url: server.url("/bare"), amount: 2000, connections: ctx.connections });
    });
    rows.push({
      scenario: "2c. Redis commands per hit (INFO commandstats delta / hits served)",
      measured: `${fmt(perHit)} (${perRequest(counts, served)})`,
      baseline: `${fmt(total(bareCounts) / 2000)} per bare request`,
      ratio: "—",
      target: "— (report)",
      met: "—",
    });
    rows.push({
      scenario: "2c′. Same, attributed with MONITOR (bench keys only): sent by the server / run inside Lua",
      measured: `${fmt(total(monitored.sent) / served)} sent (${perRequest(monitored.sent, served)}) / ${fmt(total(monitored.inScripts) / served)} in Lua`,
      baseline: "—",
      ratio: "—",
      target: "— (cross-check)",
      met: "—",
    });
    notes.push(
      `Server: Express, \`configureCachePage({ backends: { default: { backend: "keyv", options: { store: "${ctx.redisUrl}", namespace: "${ctx.namespace}" } } } })\`; the cached action has one plain tag, so a hit reads the entry and the tag's version.`,
      `Commands per hit: ${fmtInt(served)} hits in ${fmt(seconds, 1)} s; commandstats counts every client of this shared Redis: ${fmt(noisePerSecond, 1)} commands/s from others were measured just before (${fmt((noisePerSecond * seconds) / served, 3)} per hit if that rate held), so the figure is exact to about that much. The ′ row counts the same window with MONITOR, keeping only commands on keys under \`${ctx.namespace}:\` (so other clients do not count) and telling the commands the server sent from those Lua scripts ran inside Redis.`,
      `Other processes used ${single.othersCores.toFixed(2)} / ${loaded.othersCores.toFixed(2)} cores on average during the 1-connection / ${ctx.connections}-connection runs (redis-server counted as ours).`,
    );
  } finally {
    await server.stop();
  }
  return { id: "redis-hits", title: "2. Redis hits", rows, notes };
}
