import type { BenchContext } from "../context";
import { runLoad } from "../load";
import { primeHit } from "./redisHits";
import { ServerProcess } from "../serverProcess";
import { fmt, fmtBytes, fmtInt, fmtRatio } from "../stats";
import { met, type ResultRow, type ScenarioReport } from "../types";

/** Redis figures measured in scenario 5, shown here next to the in-memory ones. */
export interface RedisIndexBytes {
  perMembership: number;
  perEntry: number;
  memberLength: number;
}

/**
 * Scenario 6: RSS of the server after 100,000 hits and after 1,000,000 (no leak), and the
 * per-entry cost of the surrogate index (in memory here; on Redis from scenario 5).
 */
export async function runMemoryScenario(ctx: BenchContext, redisIndex: RedisIndexBytes | undefined): Promise<ScenarioReport> {
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const driver = "koa" as const;
  const server = await ServerProcess.start({ driver, store: "memory" }, `${driver}-memory-rss`);
  try {
    await primeHit(server, "/cached");
    const first = ctx.quick ? 20_000 : 100_000;
    const goal = ctx.quick ? 200_000 : 1_000_000;
    const budgetMs = ctx.quick ? 30_000 : 150_000;
    // Duration-driven runs (autocannon's `amount` with pipelining can wait forever for a lost
    // response); memory is read each time another `first` hits have been served.
    // Run lengths are chosen from the last rate so that readings land just past each checkpoint.
    let rate = 5000;
    const run = async (wanted: number) => {
      const duration = Math.min(5, Math.max(0.5, wanted / rate));
      const r = await runLoad({ url: server.url("/cached"), duration, connections: ctx.connections, pipelining: 10 });
      if (r.rps > 0) rate = r.rps;
      return r;
    };
    let warm = 0;
    while (warm < 10_000) warm += (await run(10_000 - warm)).ok;
    const checkpoints: Array<{ served: number; rss: number; heapUsed: number }> = [];
    let served = 0;
    let failed = 0;
    let next = first;
    const started = Date.now();
    while (served < goal && Date.now() - started < budgetMs) {
      const r = await run(Math.min(next, goal) - served);
      served += r.ok;
      failed += r.failed;
      if (served >= next || served >= goal) {
        const m = await server.memory();
        checkpoints.push({ served, rss: m.rss, heapUsed: m.heapUsed });
        ctx.log(`  after ${fmtInt(served)} hits: RSS ${fmtBytes(m.rss)}, heap ${fmtBytes(m.heapUsed)}`);
        while (next <= served) next += first;
      }
    }
    if (checkpoints.length < 2) throw new Error(`only ${fmtInt(served)} hits could be served within ${budgetMs / 1000} s; no comparison possible`);
    const atFirst = checkpoints[0];
    const atGoal = checkpoints[checkpoints.length - 1];
    const firstServed = atFirst.served;
    const ratio = atGoal.rss / atFirst.rss;
    const rssMin = Math.min(...checkpoints.map((c) => c.rss));
    const rssMax = Math.max(...checkpoints.map((c) => c.rss));
    rows.push({
      scenario: `6a. RSS after ${fmtInt(served)} hits vs after ${fmtInt(firstServed)} (${driver}, memory store, after GC)`,
      measured: fmtBytes(atGoal.rss),
      baseline: `${fmtBytes(atFirst.rss)} after ${fmtInt(firstServed)} hits`,
      ratio: fmtRatio(ratio, 3),
      target: "within ±10%",
      met: met(ratio >= 0.9 && ratio <= 1.1),
    });
    rows.push({
      scenario: `6b. Heap used after ${fmtInt(served)} hits vs after ${fmtInt(firstServed)} (context)`,
      measured: fmtBytes(atGoal.heapUsed),
      baseline: `${fmtBytes(atFirst.heapUsed)} after ${fmtInt(firstServed)} hits`,
      ratio: fmtRatio(atGoal.heapUsed / atFirst.heapUsed, 3),
      target: "—",
      met: "—",
    });
    notes.push(
      `Hits driven with autocannon runs of at most 5 s, sized from the last rate so that each reading lands just past its checkpoint (10 connections, pipelining 10) on the ${driver} server's cached action; RSS and heap read over IPC after full GCs, one second of idleness and full GCs again (the child runs with \`--expose-gc\`).${served < goal ? ` The ${budgetMs / 1000} s budget ran out at ${fmtInt(served)} hits (goal ${fmtInt(goal)}).` : ""}${failed > 0 ? ` ${fmtInt(failed)} requests failed (pipelined requests cut off when autocannon closes its sockets at the end of each run).` : ""}`,
      `RSS at every checkpoint (hits: RSS / heap): ${checkpoints.map((c) => `${fmtInt(c.served)}: ${fmtBytes(c.rss)} / ${fmtBytes(c.heapUsed)}`).join("; ")} — range ${fmtBytes(rssMin)}–${fmtBytes(rssMax)}. The child's RSS includes ts-node and the TypeScript compiler it loads.`,
      `${driver} was chosen for the long run because it serves about 2–3× more requests per second than Express here, which keeps the 1,000,000 hits inside the time budget; the hit path after the driver adapter (plan, lookup, reply) is shared by both drivers.`,
    );

    const n = ctx.quick ? 20_000 : 100_000;
    const overhead = await server.command<{ perMembership: number; perEntry: number; keyLength: number }>("indexOverhead", { n });
    rows.push({
      scenario: "6c. Surrogate index, memory store: heap per membership",
      measured: fmtBytes(overhead.perMembership),
      baseline: `${fmtBytes(overhead.perEntry)} per entry (1-byte body, no tags)`,
      ratio: fmtRatio(overhead.perMembership / overhead.perEntry),
      target: "— (report)",
      met: "—",
    });
    notes.push(
      `Memory index: ${fmtInt(n)} memberships added to one tag of a fresh in-memory backend (\`surrogateIndex.add\`), heap after GC before/after divided by ${fmtInt(n)}; keys are ${overhead.keyLength} characters and already allocated (their own bytes are not counted). Per entry: ${fmtInt(n)} \`set\`s of untagged entries with the same keys, same method.`,
    );
    if (redisIndex) {
      rows.push({
        scenario: "6d. Surrogate index, Redis: bytes per membership (MEMORY USAGE / members)",
        measured: fmtBytes(redisIndex.perMembership),
        baseline: `${fmtBytes(redisIndex.perEntry)} per entry key (1-byte body)`,
        ratio: fmtRatio(redisIndex.perMembership / redisIndex.perEntry),
        target: "— (report)",
        met: "—",
      });
      notes.push(
        `Redis index: measured on the plain tag of scenario 5 before its invalidation; members are about ${fmt(redisIndex.memberLength, 0)} characters long.`,
      );
    }
  } finally {
    await server.stop();
  }
  return { id: "memory", title: "6. Memory", rows, notes };
}
