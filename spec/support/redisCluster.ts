import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Ports of a cluster someone else runs (e.g. `.ci/start-services.sh` with REDIS_CLUSTER_PORTS set):
 * used as they are and never stopped by this run. Unset: this run starts a cluster of its own on
 * free ports chosen now, and stops it at the end; two runs never share or stop each other's.
 */
const GIVEN_PORTS = process.env.REDIS_CLUSTER_PORTS?.split(",")
  .map((p) => Number(p.trim()))
  .filter((p) => p > 0);

/** Loopback ports of the three masters in use (the given ones, or this run's own once started). */
export let CLUSTER_PORTS: number[] = GIVEN_PORTS ?? [];

/** The cluster URL the tests use: REDIS_CLUSTER_URL, else the three loopback masters (set once the cluster is ready). */
export let REDIS_CLUSTER_URL = process.env.REDIS_CLUSTER_URL || clusterUrl(CLUSTER_PORTS);

function clusterUrl(ports: number[]): string {
  return `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(",")}`;
}

/**
 * A cluster this process started: only this process stops it.
 *
 * @example
 * const cluster = await startOwnRedisCluster();
 * await cluster.stop();
 */
export interface OwnRedisCluster {
  ports: number[];
  url: string;
  dir: string;
  stop(): Promise<void>;
}

let started: OwnRedisCluster | undefined;
let ensuring: Promise<string | undefined> | undefined;

/** True when something listens on 127.0.0.1:`port`. */
export function portAnswers(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.setTimeout(500);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * `count` loopback ports that are free now, each with its cluster bus port (+10000) free too,
 * from a random place in 20000-54999 so that concurrent runs rarely even try the same ones.
 *
 * @example
 * const ports = await freeClusterPorts(3); // e.g. [31415, 31416, 31417]
 */
export async function freeClusterPorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = 20000 + Math.floor(Math.random() * 35000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const free = await Promise.all(ports.flatMap((p) => [canBind(p), canBind(p + 10000)]));
    if (free.every(Boolean)) return ports;
  }
  throw new Error(`no ${count} free consecutive loopback ports (with their +10000 bus ports) found in 20000-54999`);
}

async function clusterState(port: number): Promise<string | undefined> {
  try {
    const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "cluster", "info"], { timeout: 3000 });
    return /cluster_state:(\w+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

async function waitForClusterOk(ports: number[], ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const states = await Promise.all(ports.map(clusterState));
    if (states.every((s) => s === "ok")) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const exitHooks = new Set<() => void>();
process.once("exit", () => {
  for (const hook of exitHooks) hook();
});

/**
 * Starts a 3-master Redis Cluster of this process's own on `ports` (default: free ones chosen now),
 * in a temp directory. Only the returned `stop()` stops it; it is also shut down if this process
 * exits without calling it (mocha's `--exit`).
 *
 * @example
 * const cluster = await startOwnRedisCluster();
 * const backend = new KeyvCacheBackend({ store: cluster.url });
 */
export async function startOwnRedisCluster(ports?: number[]): Promise<OwnRedisCluster> {
  const chosen = ports ?? (await freeClusterPorts(3));
  const dir = mkdtempSync(join(tmpdir(), "ccp-redis-cluster-"));
  const shutdownSync = () => {
    for (const p of chosen) {
      try {
        execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(p), "shutdown", "nosave"], { timeout: 2000, stdio: "ignore" });
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  exitHooks.add(shutdownSync);
  const cluster: OwnRedisCluster = {
    ports: chosen,
    url: clusterUrl(chosen),
    dir,
    stop: async () => {
      exitHooks.delete(shutdownSync);
      await Promise.all(
        chosen.map((p) => run("redis-cli", ["-h", "127.0.0.1", "-p", String(p), "shutdown", "nosave"], { timeout: 3000 }).catch(() => undefined)),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const port of chosen) {
      await run("redis-server", [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        join(dir, `nodes-${port}.conf`),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "yes",
        "--dir",
        dir,
        "--logfile",
        join(dir, `redis-${port}.log`),
      ]);
    }
    const until = Date.now() + 5000;
    while (!(await Promise.all(chosen.map((p) => portAnswers(p)))).every(Boolean)) {
      if (Date.now() > until) throw new Error(`redis-server did not start on ports ${chosen.join(", ")} (logs in ${dir})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await run("redis-cli", ["--cluster", "create", ...chosen.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], { timeout: 20000 });
    if (!(await waitForClusterOk(chosen, 10000))) throw new Error(`the cluster on ports ${chosen.join(", ")} did not reach cluster_state:ok`);
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/**
 * Makes sure a 3-master Redis Cluster answers: REDIS_CLUSTER_URL or REDIS_CLUSTER_PORTS when set
 * (someone else's cluster: used, never stopped), else one of this run's own on free ports, stopped
 * by {@link stopRedisCluster}. Resolves to undefined when ready, or to the reason it cannot be.
 */
export function ensureRedisCluster(): Promise<string | undefined> {
  ensuring ??= ensure();
  return ensuring;
}

async function ensure(): Promise<string | undefined> {
  if (process.env.REDIS_CLUSTER_URL) return undefined;
  if (GIVEN_PORTS && GIVEN_PORTS.length > 0) {
    const answering = await Promise.all(GIVEN_PORTS.map((p) => portAnswers(p)));
    if (!answering.every(Boolean))
      return `REDIS_CLUSTER_PORTS=${GIVEN_PORTS.join(",")} is set but not every port answers; start it with .ci/start-services.sh or unset it to let the tests start their own`;
    return (await waitForClusterOk(GIVEN_PORTS, 5000)) ? undefined : `Redis on ports ${GIVEN_PORTS.join(", ")} answers but cluster_state is not ok`;
  }
  try {
    await run("redis-server", ["--version"], { timeout: 3000 });
  } catch {
    return "redis-server is not installed (apt-get install redis-server), and neither REDIS_CLUSTER_URL nor REDIS_CLUSTER_PORTS is set";
  }
  let lastError: unknown;
  // Free ports can be taken between the check and redis-server binding them: try other ones.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      started = await startOwnRedisCluster();
      CLUSTER_PORTS = started.ports;
      REDIS_CLUSTER_URL = started.url;
      return undefined;
    } catch (error) {
      lastError = error;
    }
  }
  return `could not start a Redis Cluster of this run's own: ${(lastError as Error)?.message ?? String(lastError)}`;
}

/** Stops the cluster {@link ensureRedisCluster} started for this run; someone else's is left running. */
export async function stopRedisCluster(): Promise<void> {
  const own = started;
  started = undefined;
  ensuring = undefined;
  await own?.stop();
}
