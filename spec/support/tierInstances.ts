import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createClient, createCluster } from "@keyv/redis";

const ROOT = join(__dirname, "..", "..");
const SCRIPT = join(__dirname, "tierInstance.ts");

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface TierInstanceOptions {
  /** The cache store URL (`redis://`, `redis+cluster://`, or a TcpProxy's url). */
  redis: string;
  /** A Redis the action reads `<namespace>:gen` from, directly. */
  oracleRedis: string;
  namespace: string;
  leaseMs: number;
  /** Enables the local tier. */
  local: boolean;
  /** A label for messages, e.g. "A". */
  name: string;
}

/** What one request to an instance got, with when it started and ended (ms on the test's clock). */
export interface InstanceResponse {
  instance: string;
  path: string;
  status: number;
  xCache: string | undefined;
  body: any;
  startedAt: number;
  endedAt: number;
}

/** How an instance process ended. */
export interface InstanceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Milliseconds since this module loaded: the one clock of a test's timeline. */
export const now = (() => {
  const origin = performance.now();
  return () => Math.round((performance.now() - origin) * 10) / 10;
})();

/**
 * One spec/support/tierInstance.ts process: an Express app on its own port whose page cache is
 * configured from `options`. Started and stopped by the test; it dies with the test process at
 * the latest.
 *
 * @example
 * const a = await TierInstance.start({ redis: REDIS_URL, oracleRedis: REDIS_URL, namespace, leaseMs: 1000, local: true, name: "A" });
 * const res = await a.get("/page/1"); // res.xCache === "MISS", res.body.gen
 * await a.stop();
 */
export class TierInstance {
  private readonly stderr: string[] = [];
  private readonly exited: Promise<InstanceExit>;

  private constructor(
    readonly options: TierInstanceOptions,
    private readonly child: ChildProcess,
    /** The HTTP port it listens on. */
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    child.stderr!.on("data", (chunk: Buffer) => this.keepStderr(chunk));
  }

  get name(): string {
    return this.options.name;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Spawns one and resolves once it printed `READY <port>` (rejects with its stderr otherwise). */
  static start(options: TierInstanceOptions): Promise<TierInstance> {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-r", "reflect-metadata", SCRIPT], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: "test",
        REDIS: options.redis,
        ORACLE_REDIS: options.oracleRedis,
        NAMESPACE: options.namespace,
        LEASE_MS: String(options.leaseMs),
        LOCAL: options.local ? "1" : "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    child.once("exit", () => running.delete(child));
    return new Promise((resolve, reject) => {
      let stdout = "";
      let stderr = "";
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        reject(new Error(`tier instance ${options.name} did not start: ${why}\n${stderr.trim()}`));
      };
      const timer = setTimeout(() => fail("no READY line within 30 s"), 30_000);
      const onStderr = (chunk: Buffer) => {
        stderr += chunk.toString();
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`it exited (code ${code}, signal ${signal})`);
      child.stderr!.on("data", onStderr);
      child.once("exit", onExit);
      child.stdout!.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const ready = /READY (\d+)/.exec(stdout);
        if (!ready) return;
        clearTimeout(timer);
        child.off("exit", onExit);
        child.stderr!.off("data", onStderr);
        child.stdout!.removeAllListeners("data");
        child.stdout!.resume();
        const instance = new TierInstance(options, child, Number(ready[1]));
        instance.keepStderr(Buffer.from(stderr));
        resolve(instance);
      });
    });
  }

  /** GET `path`; never rejects on an HTTP status (a network failure rejects). */
  get(path: string, timeoutMs = 10_000): Promise<InstanceResponse> {
    return this.send("GET", path, timeoutMs);
  }

  /** POST `path` without a body. */
  post(path: string, timeoutMs = 10_000): Promise<InstanceResponse> {
    return this.send("POST", path, timeoutMs);
  }

  /** SIGTERM, then how it exited (SIGKILL after `graceMs` if it had not). */
  async stop(graceMs = 8000): Promise<InstanceExit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** SIGKILL: a crash, nothing closed. */
  async kill(): Promise<InstanceExit> {
    this.child.kill("SIGKILL");
    return this.exited;
  }

  /** The last lines it wrote to stderr (logger warnings, errors). */
  recentStderr(lines = 20): string {
    return this.stderr.slice(-lines).join("\n");
  }

  private keepStderr(chunk: Buffer): void {
    for (const line of chunk.toString().split("\n")) if (line.trim() !== "") this.stderr.push(line);
    if (this.stderr.length > 200) this.stderr.splice(0, this.stderr.length - 200);
  }

  private async send(method: string, path: string, timeoutMs: number): Promise<InstanceResponse> {
    const startedAt = now();
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, { method, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text for the message
    }
    return { instance: this.name, path, status: res.status, xCache: res.headers.get("x-cache") ?? undefined, body, startedAt, endedAt: now() };
  }
}

/** Starts `names.length` instances with the same options but their names. */
export function startTierInstances(names: string[], options: Omit<TierInstanceOptions, "name">): Promise<TierInstance[]> {
  return Promise.all(names.map((name) => TierInstance.start({ ...options, name })));
}

/** Stops every instance given (SIGTERM, then SIGKILL); never rejects. */
export async function stopTierInstances(instances: Array<TierInstance | undefined>): Promise<void> {
  await Promise.allSettled(instances.map((instance) => instance?.stop()));
}

/**
 * Deletes every key whose name contains `namespace` (entries, indexes, versions, and whatever the
 * local tier keeps: leases, logs, watermarks, with or without a `{hash tag}`), on every master of
 * a `redis+cluster://` URL or on one `redis://` server.
 */
type KeyScanner = Pick<ReturnType<typeof createPlainClient>, "scan" | "unlink">;
const createPlainClient = (url: string) => createClient({ url });

export async function deleteNamespaceKeys(url: string, namespace: string): Promise<number> {
  const nodes: KeyScanner[] = [];
  let closeAll: () => Promise<void>;
  if (url.startsWith("redis+cluster://")) {
    const cluster = createCluster({
      rootNodes: url
        .replace(/^redis\+cluster:\/\//, "")
        .split(",")
        .map((h) => ({ url: `redis://${h}` })),
    });
    cluster.on("error", () => undefined);
    await cluster.connect();
    for (const master of cluster.masters) nodes.push((await cluster.nodeClient(master)) as unknown as KeyScanner);
    closeAll = () => cluster.close();
  } else {
    const client = createPlainClient(url);
    client.on("error", () => undefined);
    await client.connect();
    nodes.push(client);
    closeAll = () => client.close();
  }
  let deleted = 0;
  try {
    for (const node of nodes) {
      let cursor = "0";
      do {
        const reply = await node.scan(cursor, { MATCH: `*${namespace}*`, COUNT: 1000 });
        cursor = String(reply.cursor);
        // One key per command: keys of one SCAN page may live in different slots.
        const counts = await Promise.all(reply.keys.map((k) => node.unlink(k)));
        deleted += counts.reduce((a, b) => a + b, 0);
      } while (cursor !== "0");
    }
  } finally {
    await closeAll();
  }
  return deleted;
}
