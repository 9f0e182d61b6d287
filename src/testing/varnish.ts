import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/**
 * The path of the Varnish VCL shipped with the package (`examples/cdn/varnish.vcl`: xkey tags,
 * `PURGE` with `xkey-purge` / `xkey-softpurge`), the default template of {@link startVarnish}.
 * The same relative path holds from `src/testing` and `dist/testing`.
 *
 * @example
 * const template = await readFile(VARNISH_VCL_PATH, "utf8");
 */
export const VARNISH_VCL_PATH = resolve(__dirname, "../../examples/cdn/varnish.vcl");

/**
 * A varnishd started for a test, listening on 127.0.0.1.
 *
 * @example
 * const varnish = await startVarnish({ backendPort: 3000 });
 * await fetch(`${varnish.url}/products`);
 * await varnish.stop();
 */
export interface VarnishInstance {
  /** e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  port: number;
  workDir: string;
  /** What varnishd wrote so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * The varnishd binary: `$VARNISHD` when set, else on PATH or where Debian installs it (/usr/sbin,
 * not on every user's PATH).
 *
 * @example
 * if (!findVarnishd()) console.log("run bash .ci/install-varnish.sh");
 */
export function findVarnishd(): string | undefined {
  if (process.env.VARNISHD) return existsSync(process.env.VARNISHD) ? process.env.VARNISHD : undefined;
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/local/sbin"])) {
    if (dir && existsSync(join(dir, "varnishd"))) return join(dir, "varnishd");
  }
  return undefined;
}

/**
 * The VCL `template` with its `backend default { ... }` pointed at host:port. Fails when the
 * template has no such block, rather than testing a VCL that talks to the wrong place.
 *
 * @example
 * const vcl = vclWithBackend(await readFile(VARNISH_VCL_PATH, "utf8"), "127.0.0.1", 41000);
 */
export function vclWithBackend(template: string, host: string, port: number): string {
  const block = /backend\s+default\s*\{[^}]*\}/;
  if (!block.test(template)) throw new Error("the VCL template has no `backend default { ... }` block to point at the test app");
  return template.replace(block, (found) => found.replace(/\.host\s*=\s*"[^"]*"/, `.host = "${host}"`).replace(/\.port\s*=\s*"[^"]*"/, `.port = "${port}"`));
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Where {@link startVarnish} points varnishd, and which VCL it loads. */
export interface StartVarnishOptions {
  /** The port of the app Varnish sits in front of. */
  backendPort: number;
  /** Default 127.0.0.1. */
  backendHost?: string;
  /** A VCL file with a `backend default { ... }` block; default {@link VARNISH_VCL_PATH}. */
  vclTemplate?: string;
  /** Default 15,000 ms. */
  readyTimeoutMs?: number;
}

/**
 * Starts varnishd in the foreground with its own work dir on a free loopback port, with the VCL
 * pointed at your app, and waits until the VCL answers (a PURGE without keys gets its 400). Needs
 * varnishd and the xkey vmod (Debian: `varnish` and `varnish-modules`); `$VARNISHD` names the binary.
 *
 * @example
 * const varnish = await startVarnish({ backendPort: appPort });
 */
export async function startVarnish(options: StartVarnishOptions): Promise<VarnishInstance> {
  const varnishd = findVarnishd();
  if (!varnishd) throw new Error("varnishd is not installed; run `bash .ci/install-varnish.sh` (Debian packages varnish and varnish-modules)");
  const template = await readFile(options.vclTemplate ?? VARNISH_VCL_PATH, "utf8");
  let lastError: unknown;
  // The free port is found before varnishd binds it; another process may take it in between, so try again.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const workDir = await mkdtemp(join(tmpdir(), "ccp-varnish-"));
    // varnishd reads the VCL and uses its work dir as its own unprivileged user when started as root.
    await chmod(workDir, 0o755);
    const vclPath = join(workDir, "test.vcl");
    await writeFile(vclPath, vclWithBackend(template, options.backendHost ?? "127.0.0.1", options.backendPort), { mode: 0o644 });
    const port = await freePort();
    const args = ["-F", "-n", workDir, "-a", `127.0.0.1:${port}`, "-T", "127.0.0.1:0", "-f", vclPath, "-s", "malloc,32m", "-l", "2m"];
    // As root varnishd drops privileges to its own user (the Debian package creates it); otherwise no jail is possible.
    if (process.getuid?.() !== 0) args.push("-j", "none");
    const child = spawn(varnishd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const instance: VarnishInstance = {
      url: `http://127.0.0.1:${port}`,
      port,
      workDir,
      output: () => output,
      stop: () => stopVarnish(child, workDir),
    };
    try {
      await waitUntilReady(instance, child, options.readyTimeoutMs ?? 15_000);
      return instance;
    } catch (error) {
      lastError = error;
      await instance.stop();
    }
  }
  throw lastError;
}

async function waitUntilReady(instance: VarnishInstance, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`varnishd exited (code ${exited}) before answering:\n${instance.output()}`);
    try {
      const response = await fetch(`${instance.url}/`, { method: "PURGE", signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 400) return;
      throw new Error(`varnishd answered a bare PURGE with ${response.status}, not the 400 of the VCL in examples/cdn/varnish.vcl`);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("varnishd answered")) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`varnishd did not answer on ${instance.url} within ${timeoutMs} ms:\n${instance.output()}`);
}

async function stopVarnish(child: ChildProcess, workDir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
  await rm(workDir, { recursive: true, force: true });
}
