import path from "node:path";
import type { BenchContext } from "../context";
import { compareInterleaved, type Comparison } from "../compare";
import { profileMarkdown, summarizeProfile, type ProfileSummary } from "../cpuProfile";
import { processTicks, TICKS_PER_SECOND } from "../cpuNoise";
import { runLoad } from "../load";
import { ServerProcess } from "../serverProcess";
import { fmtInt, fmtMs, fmtRatio } from "../stats";
import { met, type ResultRow, type ScenarioReport } from "../types";
import { BODY_BYTES } from "../body";

/** A profile taken because a hit target was missed. */
export interface HitProfile {
  driver: string;
  summary: ProfileSummary;
}

/** Checks that a cached route really answers from the cache before it is measured. */
export async function expectHit(server: ServerProcess, pathname: string, header: string, value?: string): Promise<void> {
  let last = "";
  for (let i = 0; i < 3; i++) {
    const res = await fetch(server.url(pathname));
    await res.arrayBuffer();
    last = res.headers.get(header) ?? "";
    if (last && (value === undefined || last === value)) return;
  }
  throw new Error(`${pathname} on ${server.label} is not served from its cache (header ${header} = "${last}")`);
}

export function cpuRow(scenario: string, c: Comparison, a: string, b: string, baseLabel: string): ResultRow {
  return {
    scenario,
    measured: `${fmtInt(c.perCpuSecond(a))} req per CPU-s (${fmtInt(1e6 / c.perCpuSecond(a))} µs/req)`,
    baseline: `${fmtInt(c.perCpuSecond(b))} req per CPU-s (${baseLabel})`,
    ratio: fmtRatio(c.cpuRatio(a, b)),
    target: "— (cross-check)",
    met: "—",
  };
}

function latencyRow(scenario: string, c: Comparison, hit: string, base: string, baseLabel: string): ResultRow {
  return {
    scenario,
    measured: `p50 ${fmtMs(c.median(hit, "p50"))} / p99 ${fmtMs(c.median(hit, "p99"))}`,
    baseline: `p50 ${fmtMs(c.median(base, "p50"))} / p99 ${fmtMs(c.median(base, "p99"))} (${baseLabel})`,
    ratio: `${fmtRatio(c.ratio(hit, base, "p50"))} / ${fmtRatio(c.ratio(hit, base, "p99"))}`,
    target: "— (lower is better)",
    met: "—",
  };
}

export function rpsRow(scenario: string, c: Comparison, a: string, b: string, baseLabel: string, target?: number): ResultRow {
  const ratio = c.ratio(a, b, "rps");
  const [low, high] = c.ratioRange(a, b, "rps");
  return {
    scenario,
    measured: `${fmtInt(c.median(a, "rps"))} req/s`,
    baseline: `${fmtInt(c.median(b, "rps"))} req/s (${baseLabel})`,
    ratio: `${fmtRatio(ratio)} (rounds ${low.toFixed(2)}–${high.toFixed(2)})`,
    target: target === undefined ? "— (context)" : `≥ ${target.toFixed(2)}×`,
    met: target === undefined ? "—" : met(ratio >= target),
  };
}

export async function profileHits(
  ctx: BenchContext,
  server: ServerProcess,
  driver: string,
  pathname: string,
  name: string,
  connections = ctx.connections,
): Promise<HitProfile> {
  const file = path.join(ctx.profilesDir, `${driver}-${name}.cpuprofile`);
  ctx.log(`  profiling ${driver} ${name} for 5 s -> ${path.relative(process.cwd(), file)}`);
  await server.command("profileStart");
  const before = processTicks(server.pid);
  const r = await runLoad({ url: server.url(pathname), duration: 5, connections });
  const cpuMicros = ((processTicks(server.pid) - before) * 1e6) / TICKS_PER_SECOND / r.ok;
  await server.command("profileStop", { file });
  return { driver: `${driver} ${name}`, summary: summarizeProfile(file, 15, r.ok, cpuMicros) };
}

/**
 * Scenario 1: memory-store hits against a bare routing-controllers action returning the same
 * constant body, and (Express) against apicache's hit, interleaved round by round.
 */
export async function runHitScenario(ctx: BenchContext): Promise<{ report: ScenarioReport; profiles: HitProfile[] }> {
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const details: string[] = [];
  const profiles: HitProfile[] = [];
  const opts = { rounds: ctx.rounds, duration: ctx.duration, warmupSeconds: ctx.warmupSeconds, connections: ctx.connections, log: ctx.log };

  ctx.log("  Express (memory store)");
  const express = await ServerProcess.start({ driver: "express", store: "memory", rawCeiling: true }, "express-memory");
  try {
    await expectHit(express, "/cached", "x-cache", "HIT");
    await expectHit(express, "/cached-untagged", "x-cache", "HIT");
    await expectHit(express, "/apicache", "apicache-store");
    const c = await compareInterleaved(
      [
        { name: "bare", url: express.url("/bare") },
        { name: "hit", url: express.url("/cached") },
        { name: "apicache", url: express.url("/apicache") },
        { name: "hit-untagged", url: express.url("/cached-untagged") },
        { name: "raw-node", url: `http://127.0.0.1:${express.rawPort}/` },
      ],
      { ...opts, pids: [express.pid] },
    );
    const hitVsBare = rpsRow("1a. Express: memory-store hit vs bare action (throughput)", c, "hit", "bare", "bare action", 0.9);
    const hitVsApicache = rpsRow("1b. Express: memory-store hit vs apicache hit (throughput)", c, "hit", "apicache", "apicache hit", 1.0);
    rows.push(hitVsBare, hitVsApicache);
    rows.push(cpuRow("1a′. Express: hit vs bare, requests per server CPU-second", c, "hit", "bare", "bare action"));
    rows.push(cpuRow("1b′. Express: hit vs apicache hit, requests per server CPU-second", c, "hit", "apicache", "apicache hit"));
    rows.push(latencyRow("1c. Express: hit latency vs bare action", c, "hit", "bare", "bare action"));
    rows.push(rpsRow("1d. Express: apicache hit vs bare action (context)", c, "apicache", "bare", "bare action"));
    rows.push(rpsRow("1e. Express: hit without tags vs bare action (context)", c, "hit-untagged", "bare", "bare action"));
    rows.push(rpsRow("1f. Express: plain node:http, same bytes, vs bare action (ceiling)", c, "raw-node", "bare", "bare action"));
    const failed = ["bare", "hit", "apicache", "hit-untagged", "raw-node"].reduce((s, n) => s + c.failed(n), 0);
    if (failed > 0) notes.push(`${failed} requests failed during the Express runs.`);
    notes.push(`Express runs: other processes on the machine used ${c.othersCores.toFixed(2)} cores on average while measuring.`);
    if (hitVsBare.met === "no" || hitVsApicache.met === "no") {
      profiles.push(await profileHits(ctx, express, "express", "/cached", "memory-hit"));
      profiles.push(await profileHits(ctx, express, "express", "/apicache", "apicache-hit"));
    }
  } finally {
    await express.stop();
  }

  ctx.log("  Koa (memory store)");
  const koa = await ServerProcess.start({ driver: "koa", store: "memory" }, "koa-memory");
  try {
    await expectHit(koa, "/cached", "x-cache", "HIT");
    await expectHit(koa, "/cached-untagged", "x-cache", "HIT");
    const c = await compareInterleaved(
      [
        { name: "bare", url: koa.url("/bare") },
        { name: "hit", url: koa.url("/cached") },
        { name: "hit-untagged", url: koa.url("/cached-untagged") },
      ],
      { ...opts, pids: [koa.pid] },
    );
    const koaRow = rpsRow("1g. Koa: memory-store hit vs bare action (throughput)", c, "hit", "bare", "bare action", 0.9);
    rows.push(koaRow, cpuRow("1g′. Koa: hit vs bare, requests per server CPU-second", c, "hit", "bare", "bare action"));
    rows.push(latencyRow("1h. Koa: hit latency vs bare action", c, "hit", "bare", "bare action"));
    rows.push(rpsRow("1i. Koa: hit without tags vs bare action (context)", c, "hit-untagged", "bare", "bare action"));
    const failed = ["bare", "hit", "hit-untagged"].reduce((s, n) => s + c.failed(n), 0);
    if (failed > 0) notes.push(`${failed} requests failed during the Koa runs.`);
    notes.push(`Koa runs: other processes used ${c.othersCores.toFixed(2)} cores on average while measuring.`);
    if (koaRow.met === "no") profiles.push(await profileHits(ctx, koa, "koa", "/cached", "memory-hit"));
  } finally {
    await koa.stop();
  }

  notes.unshift(
    `Body: the same ${BODY_BYTES.length}-byte JSON object (a page of 6 products) from every action. The cached action is ` +
      '`@CachePage({ timeout: 600, keyFunc: generateCacheKey, tags: ["products"] })`; apicache is `@UseBefore(apicache.middleware("5 minutes"))` on the same kind of action. ' +
      `${ctx.connections} connections, no pipelining; ${ctx.rounds} rounds of ${ctx.duration} s per target after ${ctx.warmupSeconds} s of warm-up; ratios are medians of per-round ratios (runs back to back), req/s and latencies medians over rounds. The ′ rows divide requests served by the CPU time the server process used (from /proc), a cross-check that other processes taking the CPU barely move.`,
  );
  if (profiles.length > 0) {
    details.push("A target was missed, so the server was profiled (`node:inspector` CPU profiler in the child, 5 s of load right after the rounds):", "");
  }
  for (const p of profiles) details.push(...profileMarkdown(`CPU profile: ${p.driver}`, p.summary), "");
  return { report: { id: "hits", title: "1. Memory-store hits (Express, Koa)", rows, notes, details }, profiles };
}
