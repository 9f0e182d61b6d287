import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Loopback ports of the three masters (override with REDIS_CLUSTER_PORTS="7101,7102,7103"). */
export const CLUSTER_PORTS = (process.env.REDIS_CLUSTER_PORTS ?? "7101,7102,7103").split(",").map((p) => Number(p.trim()));

/** The cluster URL the tests use: REDIS_CLUSTER_URL, else the three loopback masters. */
export const REDIS_CLUSTER_URL = process.env.REDIS_CLUSTER_URL ?? `redis+cluster://${CLUSTER_PORTS.map((p) => `127.0.0.1:${p}`).join(",")}`;

let started: { dir: string; ports: number[] } | undefined;

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

/**
 * Makes sure a 3-master Redis Cluster answers on the loopback ports: uses a running one (started by
 * `.ci/start-services.sh` or a previous run), else starts one from Debian's `redis-server` in a temp
 * directory (stopped by {@link stopRedisCluster}). Resolves to undefined when ready, or to the
 * reason it cannot be.
 */
export async function ensureRedisCluster(): Promise<string | undefined> {
  if (process.env.REDIS_CLUSTER_URL) return undefined;
  const answering = await Promise.all(CLUSTER_PORTS.map((p) => portAnswers(p)));
  if (answering.every(Boolean)) {
    return (await waitForClusterOk(CLUSTER_PORTS, 5000)) ? undefined : `Redis on ports ${CLUSTER_PORTS.join(", ")} answers but cluster_state is not ok`;
  }
  if (answering.some(Boolean)) return `some of ports ${CLUSTER_PORTS.join(", ")} are in use by something else`;
  try {
    await run("redis-server", ["--version"], { timeout: 3000 });
  } catch {
    return "redis-server is not installed (apt-get install redis-server), and REDIS_CLUSTER_URL is not set";
  }
  const dir = mkdtempSync(join(tmpdir(), "ccp-redis-cluster-"));
  for (const port of CLUSTER_PORTS) {
    await run("redis-server", [
      "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
      "--cluster-config-file", join(dir, `nodes-${port}.conf`), "--save", "", "--appendonly", "no",
      "--daemonize", "yes", "--dir", dir, "--logfile", join(dir, `redis-${port}.log`),
    ]);
  }
  started = { dir, ports: CLUSTER_PORTS };
  const until = Date.now() + 5000;
  while (!(await Promise.all(CLUSTER_PORTS.map((p) => portAnswers(p)))).every(Boolean)) {
    if (Date.now() > until) return `redis-server did not start on ports ${CLUSTER_PORTS.join(", ")} (logs in ${dir})`;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    await run("redis-cli", ["--cluster", "create", ...CLUSTER_PORTS.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], { timeout: 20000 });
  } catch (error) {
    return `redis-cli --cluster create failed: ${(error as Error).message}`;
  }
  return (await waitForClusterOk(CLUSTER_PORTS, 10000)) ? undefined : "the cluster did not reach cluster_state:ok";
}

/** Stops a cluster {@link ensureRedisCluster} started (one started by CI scripts is left running). */
export async function stopRedisCluster(): Promise<void> {
  if (!started) return;
  const { dir, ports } = started;
  started = undefined;
  await Promise.all(ports.map((p) => run("redis-cli", ["-h", "127.0.0.1", "-p", String(p), "shutdown", "nosave"]).catch(() => undefined)));
  rmSync(dir, { recursive: true, force: true });
}
