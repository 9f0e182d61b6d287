import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { ServerConfig } from "./server";

interface Reply {
  id?: number;
  type?: string;
  result?: unknown;
  error?: string;
  port?: number;
  rawPort?: number;
  pid?: number;
}

/**
 * A bench server (bench/server.ts) in a child process of its own: ts-node (transpile only),
 * `--expose-gc`, listening on 127.0.0.1. The parent generates the load; the child serves it.
 */
export class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly rawPort: number | undefined,
    readonly label: string,
  ) {
    child.on("message", (message: Reply) => {
      if (message.id === undefined) return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
  }

  /** Starts a server and waits until it listens. */
  static start(config: ServerConfig, label: string): Promise<ServerProcess> {
    const child = fork(path.join(__dirname, "server.ts"), [], {
      execArgv: ["-r", "ts-node/register/transpile-only", "--expose-gc"],
      env: { ...process.env, BENCH_SERVER: JSON.stringify(config), TS_NODE_TRANSPILE_ONLY: "true" },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`bench server "${label}" did not start within 60 s`));
      }, 60_000);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`bench server "${label}" exited with code ${code} before it was ready`));
      });
      child.on("message", (message: Reply) => {
        if (message.type !== "ready") return;
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve(new ServerProcess(child, message.port!, message.rawPort, label));
      });
    });
  }

  /** The child's process id. */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** `http://127.0.0.1:<port><path>`. */
  url(pathname: string): string {
    return `http://127.0.0.1:${this.port}${pathname}`;
  }

  /** Sends a command over IPC and waits for its answer. */
  command<T>(cmd: string, args?: Record<string, unknown>, timeoutMs = 120_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`bench server "${this.label}": "${cmd}" got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, cmd, args });
    });
  }

  /** RSS and heap after two full GCs, bytes. */
  memory(): Promise<{ rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number }> {
    return this.command("rss");
  }

  /** Asks the child to exit and waits for it (kills it after 5 s). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    try {
      await this.command("close", undefined, 5_000);
    } catch {
      this.child.kill("SIGKILL");
    }
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
