import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * A redis-server of the test's own (not the shared one) on a port of its own, which the test may
 * kill and restart. Only this process stops it; it dies with this process at the latest.
 *
 * @example
 * const redis = await OwnRedis.startOnFreePort();
 * const backend = new KeyvCacheBackend({ store: redis.url });
 * await redis.kill(); // the store is now down
 */
export class OwnRedis {
  private child?: ChildProcess;
  constructor(readonly port: number) {}

  /** True when a redis-server binary is on this machine. */
  static available(): boolean {
    return spawnSync("redis-server", ["--version"]).status === 0;
  }

  /** A free loopback port. */
  static freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
      server.on("error", reject);
    });
  }

  /**
   * Starts one on a free port, trying another when the port was taken in between.
   *
   * @example
   * const redis = await OwnRedis.startOnFreePort();
   */
  static async startOnFreePort(): Promise<OwnRedis> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const redis = new OwnRedis(await OwnRedis.freePort());
      try {
        await redis.start();
        return redis;
      } catch (error) {
        lastError = error;
        await redis.kill();
      }
    }
    throw lastError;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    this.child = child;
    running.add(child);
    child.once("exit", () => running.delete(child));
    for (let i = 0; i < 100; i += 1) {
      if (child.exitCode !== null) break;
      if (
        spawnSync("redis-cli", ["-p", String(this.port), "ping"])
          .stdout?.toString()
          .trim() === "PONG"
      )
        return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }

  /** Kills it like a crash (SIGKILL). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }
}
