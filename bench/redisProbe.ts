import { createClient } from "@keyv/redis";
import net from "node:net";

/** The raw node-redis surface the probe needs. */
interface RawRedis {
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
}

/** One SLOWLOG entry. */
export interface SlowlogEntry {
  id: number;
  micros: number;
  args: string[];
}

/**
 * What the bench asks Redis directly (through a node-redis client of its own): command counts
 * (`INFO commandstats`), `SLOWLOG`, `MEMORY USAGE`, and the clean-up of the bench namespace
 * (SCAN + UNLINK of `<namespace>:*` only; never FLUSHALL: other suites share this Redis).
 */
export class RedisProbe {
  private constructor(
    private readonly client: RawRedis,
    private readonly url: string,
  ) {}

  /**
   * Counts, with MONITOR on a connection of its own, the commands that touch keys starting with
   * `keyPrefix` while `work` runs: those a client sent, and those Lua scripts ran inside Redis
   * (MONITOR tags them "lua"). Unlike commandstats, other clients of the shared Redis (whose keys
   * are elsewhere) do not count. Lines that contain `skip` (e.g. `:tier:{`, the two tiers' own keys) do not count either.
   */
  async monitor(keyPrefix: string, work: () => Promise<void>, skip?: string): Promise<{ sent: Map<string, number>; inScripts: Map<string, number> }> {
    const { hostname, port } = new URL(this.url);
    const socket = net.connect(Number(port || 6379), hostname || "127.0.0.1");
    const sent = new Map<string, number>();
    const inScripts = new Map<string, number>();
    const marker = `"${keyPrefix}`;
    let buffered = "";
    let ready!: () => void;
    const started = new Promise<void>((resolve) => (ready = resolve));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\r\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 2);
        if (line === "+OK") ready();
        if (!line.includes(marker) || (skip !== undefined && line.includes(skip))) continue;
        const m = /\[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
        if (!m) continue;
        const counts = m[1] === "lua" ? inScripts : sent;
        const name = m[2].toLowerCase();
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
    });
    const url = new URL(this.url);
    if (url.password) socket.write(`AUTH ${url.username ? `${decodeURIComponent(url.username)} ` : ""}${decodeURIComponent(url.password)}\r\n`);
    socket.write("MONITOR\r\n");
    await started;
    try {
      await work();
      await new Promise((resolve) => setTimeout(resolve, 200)); // let the last lines arrive
    } finally {
      socket.destroy();
    }
    return { sent, inScripts };
  }

  static async connect(url: string): Promise<RedisProbe> {
    const client = createClient({ url }) as unknown as RawRedis;
    await client.connect();
    return new RedisProbe(client, url);
  }

  async close(): Promise<void> {
    if (this.client.close) await this.client.close();
    else await this.client.quit?.();
  }

  command(...args: Array<string | number>): Promise<unknown> {
    return this.client.sendCommand(args.map(String));
  }

  private async info(section: string): Promise<Map<string, string>> {
    const text = String(await this.command("INFO", section));
    const fields = new Map<string, string>();
    for (const line of text.split(/\r?\n/)) {
      const i = line.indexOf(":");
      if (i > 0 && !line.startsWith("#")) fields.set(line.slice(0, i), line.slice(i + 1));
    }
    return fields;
  }

  /** Calls per command since the server started (`cmdstat_get:calls=…` → `get`). */
  async commandCalls(): Promise<Map<string, number>> {
    const calls = new Map<string, number>();
    for (const [name, value] of await this.info("commandstats")) {
      const m = /(?:^|,)calls=(\d+)/.exec(value);
      if (name.startsWith("cmdstat_") && m) calls.set(name.slice("cmdstat_".length), Number(m[1]));
    }
    return calls;
  }

  /** The redis-server process id (its CPU is ours during the Redis scenarios). */
  async serverPid(): Promise<number> {
    return Number((await this.info("server")).get("process_id") ?? 0);
  }

  async version(): Promise<string> {
    return (await this.info("server")).get("redis_version") ?? "unknown";
  }

  /** Bytes of a key, all of it sampled (`MEMORY USAGE key SAMPLES 0`). */
  async memoryUsage(key: string): Promise<number> {
    return Number(await this.command("MEMORY", "USAGE", key, "SAMPLES", 0));
  }

  /** Every key matching `pattern` (SCAN, so Redis is never blocked). */
  async scan(pattern: string, limit = Infinity): Promise<string[]> {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = (await this.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)) as [string, string[]];
      cursor = String(next);
      keys.push(...batch);
    } while (cursor !== "0" && keys.length < limit);
    return keys;
  }

  /**
   * Deletes every key of the bench namespace: SCAN `<namespace>:*` and UNLINK in batches. The
   * namespace must be a plain word so that the pattern cannot reach anyone else's keys.
   */
  async cleanNamespace(namespace: string): Promise<number> {
    if (!/^[a-z][a-z0-9-]{2,}$/.test(namespace)) throw new Error(`refusing to clean the Redis namespace "${namespace}"`);
    let deleted = 0;
    let cursor = "0";
    do {
      const [next, batch] = (await this.command("SCAN", cursor, "MATCH", `${namespace}:*`, "COUNT", 5000)) as [string, string[]];
      cursor = String(next);
      for (let i = 0; i < batch.length; i += 1000) {
        deleted += Number(await this.command("UNLINK", ...batch.slice(i, i + 1000)));
      }
    } while (cursor !== "0");
    return deleted;
  }

  /**
   * Logs every command in SLOWLOG while `work` runs (slowlog-log-slower-than 0, a log long enough
   * to hold them), then puts both settings back as they were and returns the entries logged
   * meanwhile. The log is not reset: entries are told apart by id.
   */
  async captureSlowlog(expectedCommands: number, work: () => Promise<void>): Promise<SlowlogEntry[]> {
    const [, threshold] = (await this.command("CONFIG", "GET", "slowlog-log-slower-than")) as string[];
    const [, maxLen] = (await this.command("CONFIG", "GET", "slowlog-max-len")) as string[];
    const last = (await this.command("SLOWLOG", "GET", 1)) as unknown[][];
    const startId = last.length > 0 ? Number(last[0][0]) : -1;
    const capacity = Math.max(Number(maxLen), expectedCommands * 2 + 10_000);
    try {
      await this.command("CONFIG", "SET", "slowlog-max-len", capacity);
      await this.command("CONFIG", "SET", "slowlog-log-slower-than", 0);
      await work();
    } finally {
      await this.command("CONFIG", "SET", "slowlog-log-slower-than", threshold);
    }
    try {
      const raw = (await this.command("SLOWLOG", "GET", capacity)) as unknown[][];
      return raw.map((e) => ({ id: Number(e[0]), micros: Number(e[2]), args: (e[3] as unknown[]).map(String) })).filter((e) => e.id > startId);
    } finally {
      await this.command("CONFIG", "SET", "slowlog-max-len", maxLen);
    }
  }
}

/** `after - before` per command, leaving out zero deltas. */
export function callDeltas(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0);
    if (d > 0) delta.set(name, d);
  }
  return delta;
}

/** Counts Redis commands (all clients) while `work` runs; `exclude` drops the probe's own commands. */
export async function countCommands(probe: RedisProbe, work: () => Promise<void>, exclude = ["info"]): Promise<Map<string, number>> {
  const before = await probe.commandCalls();
  await work();
  const after = await probe.commandCalls();
  const delta = callDeltas(before, after);
  for (const name of exclude) delta.delete(name);
  return delta;
}

/** `get 1.00, evalsha 1.00` for counts divided by `n`. */
export function perRequest(counts: Map<string, number>, n: number): string {
  const parts = [...counts].sort((a, b) => b[1] - a[1]).map(([name, c]) => `${name.toUpperCase()} ${(c / n).toFixed(2)}`);
  return parts.length > 0 ? parts.join(", ") : "none";
}

/** Total of the counts. */
export function total(counts: Map<string, number>): number {
  return [...counts.values()].reduce((a, b) => a + b, 0);
}
