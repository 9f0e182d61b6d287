import { CpuNoise, processTicks, TICKS_PER_SECOND } from "./cpuNoise";
import { runLoad, type LoadOptions, type LoadResult } from "./load";
import { median } from "./stats";

/** One URL to load. */
export interface LoadTarget {
  name: string;
  url: string;
  uniqueQuery?: boolean;
  /** The process serving this target, when not the first of `pids` (its CPU time is the target's). */
  pid?: number;
}

/** How to compare targets. */
export interface CompareOptions {
  rounds: number;
  /** Seconds per target per round. */
  duration: number;
  warmupSeconds: number;
  connections?: number;
  pipelining?: number;
  /** Processes whose CPU is ours (the rest is background noise); the first is the server under test. */
  pids: number[];
  log?: (line: string) => void;
}

/** The runs of every target, round by round. */
export class Comparison {
  constructor(
    readonly runs: Map<string, LoadResult[]>,
    /** Server CPU time per 2xx response, µs, per round. */
    readonly cpu: Map<string, number[]>,
    /** Average cores used by other processes while measuring. */
    readonly othersCores: number,
    /**
     * CPU time every process of the run spent (this one, which generates the load, and `pids`:
     * the servers, redis-server) per 2xx response, µs, per round; other processes are left out.
     */
    readonly runCpu: Map<string, number[]> = new Map(),
  ) {}

  private of(name: string): LoadResult[] {
    const runs = this.runs.get(name);
    if (!runs) throw new Error(`internal: no runs for ${name}`);
    return runs;
  }

  /** Median over rounds of one target's metric. */
  median(name: string, metric: "rps" | "p50" | "p99"): number {
    return median(this.of(name).map((r) => r[metric]));
  }

  /**
   * Median over rounds of a/b, each round's two runs taken back to back: drift in background load
   * between rounds cancels out better than in a ratio of medians.
   */
  ratio(a: string, b: string, metric: "rps" | "p50" | "p99"): number {
    const ra = this.of(a);
    const rb = this.of(b);
    return median(ra.map((r, i) => r[metric] / rb[i][metric]));
  }

  /** Median over rounds of the server's requests per CPU-second (1e6 / CPU µs per request). */
  perCpuSecond(name: string): number {
    return median(this.cpu.get(name)!.map((us) => 1e6 / us));
  }

  /** Median over rounds of the run's CPU µs per response (servers, redis-server and the load generator). */
  runMicrosPerRequest(name: string): number {
    return median(this.runCpu.get(name)!);
  }

  /** Median over rounds of b's run CPU per response over a's (above 1: a costs the run less). */
  runCpuRatio(a: string, b: string): number {
    const ca = this.runCpu.get(a)!;
    const cb = this.runCpu.get(b)!;
    return median(ca.map((us, i) => cb[i] / us));
  }

  /**
   * Median over rounds of a's requests per server CPU-second over b's: like the throughput ratio,
   * but from CPU time actually spent, so much less sensitive to other processes taking the CPU.
   */
  cpuRatio(a: string, b: string): number {
    const ca = this.cpu.get(a)!;
    const cb = this.cpu.get(b)!;
    return median(ca.map((us, i) => cb[i] / us));
  }

  /** Lowest and highest per-round ratio a/b. */
  ratioRange(a: string, b: string, metric: "rps" | "p50" | "p99"): [number, number] {
    const ra = this.of(a);
    const rb = this.of(b);
    const ratios = ra.map((r, i) => r[metric] / rb[i][metric]);
    return [Math.min(...ratios), Math.max(...ratios)];
  }

  /** Requests that failed (errors, timeouts, non-2xx), all rounds. */
  failed(name: string): number {
    return this.of(name).reduce((sum, r) => sum + r.failed, 0);
  }
}

/**
 * Warms every target up, then runs `rounds` rounds; each round loads every target once, in an
 * order rotated from round to round so that no target always runs first or last.
 */
export async function compareInterleaved(targets: LoadTarget[], options: CompareOptions): Promise<Comparison> {
  const load = (t: LoadTarget, duration: number): Promise<LoadResult> => {
    const o: LoadOptions = { url: t.url, duration, connections: options.connections ?? 10, pipelining: options.pipelining ?? 1, uniqueQuery: t.uniqueQuery };
    return runLoad(o);
  };
  if (options.warmupSeconds > 0) for (const t of targets) await load(t, options.warmupSeconds);
  const runs = new Map<string, LoadResult[]>(targets.map((t) => [t.name, []]));
  const cpu = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const whole = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const ours = () => [process.pid, ...options.pids].reduce((sum, p) => sum + processTicks(p), 0);
  const server = options.pids[0];
  const noise = new CpuNoise([process.pid, ...options.pids]);
  for (let round = 0; round < options.rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length]);
    for (const t of order) {
      const pid = t.pid ?? server;
      const before = processTicks(pid);
      const oursBefore = ours();
      const r = await load(t, options.duration);
      const ticks = processTicks(pid) - before;
      const spent = ours() - oursBefore;
      runs.get(t.name)!.push(r);
      cpu.get(t.name)!.push(r.ok > 0 ? (ticks * 1e6) / TICKS_PER_SECOND / r.ok : NaN);
      whole.get(t.name)!.push(r.ok > 0 ? (spent * 1e6) / TICKS_PER_SECOND / r.ok : NaN);
      options.log?.(
        `    round ${round + 1}/${options.rounds} ${t.name.padEnd(14)} ${Math.round(r.rps).toString().padStart(6)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  server CPU ${Math.round(cpu.get(t.name)!.at(-1)!)} µs/req${r.failed ? `  FAILED ${r.failed}` : ""}`,
      );
    }
  }
  return new Comparison(runs, cpu, noise.othersCores(), whole);
}
