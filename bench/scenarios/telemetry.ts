import type { BenchContext } from "../context";
import { compareInterleaved } from "../compare";
import { ServerProcess } from "../serverProcess";
import { fmtInt, fmtRatio } from "../stats";
import { met, type ResultRow, type ScenarioReport } from "../types";

/**
 * Scenario 7: what telemetry costs a hit. Two Express servers with the same memory-store hit, one
 * with no subscriber on the cache's channels (the default), one with the Prometheus metrics
 * registered (every hit then publishes one message and updates a counter), interleaved round by
 * round in one run.
 */
export async function runTelemetryScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const opts = { rounds: ctx.rounds, duration: ctx.duration, warmupSeconds: ctx.warmupSeconds, connections: ctx.connections, log: ctx.log };
  const plain = await ServerProcess.start({ driver: "express", store: "memory", apicache: false, telemetry: "none" }, "express-no-telemetry");
  const measured = await ServerProcess.start({ driver: "express", store: "memory", apicache: false, telemetry: "prometheus" }, "express-prometheus");
  try {
    for (const server of [plain, measured]) {
      const res = await fetch(server.url("/cached"));
      await res.arrayBuffer();
    }
    const c = await compareInterleaved(
      [
        { name: "no-subscriber", url: plain.url("/cached") },
        { name: "prometheus", url: measured.url("/cached") },
      ],
      { ...opts, pids: [plain.pid, measured.pid] },
    );
    const ratio = c.ratio("prometheus", "no-subscriber", "rps");
    const [low, high] = c.ratioRange("prometheus", "no-subscriber", "rps");
    const row: ResultRow = {
      scenario: "7a. Express: memory-store hit with Prometheus metrics registered vs without (throughput)",
      measured: `${fmtInt(c.median("prometheus", "rps"))} req/s`,
      baseline: `${fmtInt(c.median("no-subscriber", "rps"))} req/s (no subscriber)`,
      ratio: `${fmtRatio(ratio)} (rounds ${low.toFixed(2)}–${high.toFixed(2)})`,
      target: "≥ 0.95×",
      met: met(ratio >= 0.95),
    };
    return {
      id: "telemetry",
      title: "7. Telemetry overhead",
      rows: [row],
      notes: [
        "Without a subscriber the request path reads `hasSubscribers` of two diagnostics channels per request and builds nothing.",
        `Other processes on the machine used ${c.othersCores.toFixed(2)} cores on average while measuring.`,
      ],
      seconds: 0,
    };
  } finally {
    await plain.stop();
    await measured.stop();
  }
}
