/**
 * `npm run bench`: the benchmark suite of issue 6. Runs every scenario in one go on this machine
 * and writes bench/REPORT.md and docs/performance.md. Never part of `npm test`.
 *
 *   npm run bench                       # everything (about 7 minutes)
 *   npm run bench -- --quick            # shorter runs, smaller N (a smoke run)
 *   npm run bench -- --only=hits,redis  # hits, redis, misses, invalidation, memory, telemetry, bounds, tiers
 *   npm run bench -- --rounds=5 --duration=2 --connections=10
 */
import "reflect-metadata";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setCacheLogger } from "../src";
import type { BenchContext } from "./context";
import { describeMachine } from "./machine";
import { RedisProbe } from "./redisProbe";
import { renderPerformanceDoc, renderReport, resultsTable, type BenchRun } from "./report";
import { runFloodScenario, runRedisDownScenario, runTagBytesScenario } from "./scenarios/bounds";
import { runHitScenario } from "./scenarios/hits";
import { runInvalidationScenarios } from "./scenarios/invalidation";
import { runMemoryScenario, type RedisIndexBytes } from "./scenarios/memory";
import { runMissScenario } from "./scenarios/misses";
import { runRedisHitScenario } from "./scenarios/redisHits";
import { runTelemetryScenario } from "./scenarios/telemetry";
import { runTierScenario } from "./scenarios/tiers";
import { msSince } from "./stats";
import type { ScenarioReport } from "./types";

const ROOT = path.resolve(__dirname, "..");
const SCENARIOS = ["hits", "redis", "misses", "invalidation", "memory", "telemetry", "bounds", "tiers"] as const;

function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

/** Writes docs/performance.md: the performance section as a page of its own (headings one level up). */
function writePerformanceDoc(section: string): void {
  const page = section.replace(/^## Performance\n/, "# Performance\n").replace(/^### /gm, "## ");
  writeFileSync(path.join(ROOT, "docs", "performance.md"), `${page.trimEnd()}\n`);
}

function failure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const frames = (error.stack ?? "")
    .split("\n")
    .filter((l) => l.trim().startsWith("at "))
    .slice(0, 4)
    .map((l) => l.trim());
  return [`${error.name}: ${error.message}`, ...frames].join("\n");
}

async function main(): Promise<void> {
  const started = process.hrtime.bigint();
  const startedAt = new Date();
  const quick = process.argv.includes("--quick");
  const only = option("only")
    ?.split(",")
    .map((s) => s.trim());
  const unknown = only?.filter((s) => !(SCENARIOS as readonly string[]).includes(s)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(", ")}; choose among ${SCENARIOS.join(", ")}`);
  const wanted = (name: (typeof SCENARIOS)[number]) => !only || only.includes(name);
  const ctx: BenchContext = {
    rounds: Number(option("rounds") ?? (quick ? 3 : 4)),
    duration: Number(option("duration") ?? 2),
    warmupSeconds: Number(option("warmup") ?? (quick ? 1 : 2)),
    connections: Number(option("connections") ?? 10),
    redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    namespace: "bench",
    profilesDir: path.join(__dirname, "profiles"),
    quick,
    log: (line) => console.log(line),
  };
  mkdirSync(ctx.profilesDir, { recursive: true });
  // Problems the cache recovers from are counted, not printed: the report says whether any happened.
  const problems: string[] = [];
  setCacheLogger({ warn: (msg) => problems.push(msg), error: (msg) => problems.push(msg) });

  const machine = describeMachine();
  console.log(`bench: ${machine.nproc} CPUs, ${machine.cpuModel}, Node ${machine.node}, load average ${machine.loadAverage}`);

  let probe: RedisProbe | undefined;
  let redisError: string | undefined;
  let redisVersion = "unavailable";
  try {
    probe = await RedisProbe.connect(ctx.redisUrl);
    redisVersion = await probe.version();
    const leftover = await probe.cleanNamespace(ctx.namespace);
    if (leftover > 0) console.log(`bench: removed ${leftover} keys left under "${ctx.namespace}:" by an earlier run`);
  } catch (error) {
    redisError = `Redis at ${ctx.redisUrl} is not reachable: ${failure(error)}`;
    probe = undefined;
  }

  const scenarios: ScenarioReport[] = [];
  const attempt = async (id: string, title: string, work: () => Promise<ScenarioReport | ScenarioReport[]>) => {
    console.log(`\n== ${title}`);
    const t = process.hrtime.bigint();
    try {
      const result = await work();
      const list = Array.isArray(result) ? result : [result];
      for (const r of list) r.seconds = msSince(t) / 1000 / list.length;
      scenarios.push(...list);
      for (const line of resultsTable(list).slice(2)) console.log(line);
    } catch (error) {
      console.log(`  FAILED: ${failure(error)}`);
      scenarios.push({ id, title, rows: [], notes: [], error: failure(error), seconds: msSince(t) / 1000 });
    }
  };
  const needsRedis = (): RedisProbe => {
    if (!probe) throw new Error(redisError ?? "Redis unavailable");
    return probe;
  };

  let redisIndex: RedisIndexBytes | undefined;
  try {
    if (wanted("hits")) {
      await attempt("hits", "1. Memory-store hits (Express, Koa)", async () => (await runHitScenario(ctx)).report);
    }
    if (wanted("redis")) await attempt("redis-hits", "2. Redis hits", () => runRedisHitScenario(ctx, needsRedis()));
    if (wanted("misses")) await attempt("misses", "3. Miss overhead", () => runMissScenario(ctx, probe));
    if (wanted("invalidation")) {
      await attempt("invalidation", "4–5. Invalidation on Redis", async () => {
        const r = await runInvalidationScenarios(ctx, needsRedis());
        redisIndex = r.redisIndexBytes;
        return [r.versioned, r.plain];
      });
    }
    if (wanted("memory")) await attempt("memory", "6. Memory", () => runMemoryScenario(ctx, redisIndex));
    if (wanted("telemetry")) await attempt("telemetry", "7. Telemetry overhead", () => runTelemetryScenario(ctx));
    if (wanted("bounds")) {
      await attempt("flood", "8. Memory store under a flood of distinct URLs", () => runFloodScenario(ctx));
      await attempt("tag-bytes", "9. Redis bytes per stored response", () => runTagBytesScenario(ctx, needsRedis()));
      await attempt("redis-down", "10. Invalidation with Redis down", () => runRedisDownScenario(ctx));
    }
    if (wanted("tiers")) await attempt("tiers", "11. Two tiers: local tier in front of Redis", () => runTierScenario(ctx, needsRedis()));
  } finally {
    if (probe) {
      const removed = await probe.cleanNamespace(ctx.namespace).catch(() => -1);
      console.log(`\nbench: cleaned up ${removed} keys under "${ctx.namespace}:"`);
      await probe.close().catch(() => undefined);
    }
  }

  if (problems.length > 0) {
    const first = scenarios[0];
    first?.notes.push(`The cache logged ${problems.length} recovered problem(s) in the bench process, e.g.: ${problems[0]}`);
  }
  const run: BenchRun = {
    startedAt,
    wallSeconds: msSince(started) / 1000,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    machine,
    redisVersion,
    settings: { rounds: ctx.rounds, duration: ctx.duration, warmupSeconds: ctx.warmupSeconds, connections: ctx.connections, quick },
    loadAverageAtEnd: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" / "),
    scenarios,
  };
  writeFileSync(path.join(__dirname, "REPORT.md"), renderReport(run));
  if (!only && !quick) writePerformanceDoc(renderPerformanceDoc(run));
  console.log(`\nbench: wrote bench/REPORT.md${!only && !quick ? " and docs/performance.md" : ""} (${Math.round(run.wallSeconds)} s)`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
