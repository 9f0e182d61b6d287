import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

/** A redis-server of the test's own (not the shared one), which the test may kill and restart. */
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

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    for (let i = 0; i < 100; i += 1) {
      if (spawnSync("redis-cli", ["-p", String(this.port), "ping"]).stdout?.toString().trim() === "PONG") return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }

  /** Kills it like a crash (SIGKILL). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }
}
