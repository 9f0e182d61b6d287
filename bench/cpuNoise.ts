import { readFileSync } from "node:fs";

export const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function systemBusyTicks(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]; // cpu  user nice system idle iowait irq softirq steal ...
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  return f.reduce((a, b) => a + b, 0) - idle;
}

/** CPU time (user + system) a process has used, in clock ticks of 10 ms; 0 when it is gone. */
export function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return 0;
  }
}

/**
 * Measures how much CPU processes other than the bench itself used during a window, in cores
 * (1.0 = one core busy all the time). The machine is shared (other test suites may run at the
 * same time), and on 2 cores that changes the absolute numbers: the report shows it.
 */
export class CpuNoise {
  private readonly start: { at: number; busy: number; own: number };

  constructor(private readonly pids: number[]) {
    this.start = { at: Date.now(), busy: systemBusyTicks(), own: this.ownTicks() };
  }

  private ownTicks(): number {
    return this.pids.reduce((sum, pid) => sum + processTicks(pid), 0);
  }

  /** Average number of cores used by other processes since construction. */
  othersCores(): number {
    const seconds = (Date.now() - this.start.at) / 1000;
    if (seconds <= 0) return 0;
    const others = systemBusyTicks() - this.start.busy - (this.ownTicks() - this.start.own);
    return Math.max(0, others / TICKS_PER_SECOND / seconds);
  }
}
