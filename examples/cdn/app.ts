/**
 * A routing-controllers app behind Varnish, cached twice: in the app (Keyv, in memory) and in
 * Varnish (xkey tags), both invalidated by one `invalidateTag`.
 *
 *   npx ts-node examples/cdn/app.ts          # app on :3000, varnishd on :6081 when installed, demo, keeps running
 *   npx ts-node examples/cdn/app.ts --once   # the same, exits after the demo
 *
 * Environment: APP_PORT (3000), VARNISH_PORT (6081), VARNISH_URL (to use a Varnish you started
 * yourself with examples/cdn/varnish.vcl; then this script starts none).
 */
import "reflect-metadata";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Controller, createExpressServer, Get, Param, Post } from "routing-controllers";
import { CachePage, configureCachePage, generateCacheKey, invalidateTag, surrogateFromModel, type CacheRequest } from "custom-cache-page";

const APP_PORT = Number(process.env.APP_PORT ?? 3000);
const VARNISH_PORT = Number(process.env.VARNISH_PORT ?? 6081);
const VARNISH_URL = process.env.VARNISH_URL ?? `http://127.0.0.1:${VARNISH_PORT}`;

// One name for the whole cache: a local Keyv store plus Varnish. Responses get an `xkey` header;
// invalidation deletes local entries and purges Varnish.
configureCachePage({
  defaultBackend: "site",
  backends: {
    local: { backend: "keyv" },
    varnish: { backend: "varnish", options: { urls: [`${VARNISH_URL}/`], timeoutMs: 2000, maxRetries: 2 } },
    site: { backend: "composite", options: { backends: ["local", "varnish"] } },
  },
});

const prices: Record<string, number> = { "1": 10, "2": 25 };
let renders = 0;

@Controller("/products")
export class ProductController {
  @Get("/:id")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey, tags: ["products", (req: CacheRequest) => surrogateFromModel("product", req.params.id)] })
  show(@Param("id") id: string): string {
    renders += 1;
    return `product ${id} costs ${prices[id] ?? "?"} EUR (render #${renders})\n`;
  }

  @Post("/:id/price/:price")
  async setPrice(@Param("id") id: string, @Param("price") price: string): Promise<string> {
    prices[id] = Number(price);
    try {
      await invalidateTag(surrogateFromModel("product", id));
      return `price of product ${id} is now ${price}; app cache and Varnish invalidated\n`;
    } catch (error) {
      // The local entries are already gone; only the Varnish purge failed (CompositeBackendError holding a CdnPurgeError).
      return `price of product ${id} is now ${price}; app cache invalidated, but: ${error instanceof Error ? error.message : String(error)}\n`;
    }
  }
}

async function startVarnish(): Promise<{ stop(): Promise<void> } | undefined> {
  if (process.env.VARNISH_URL) return undefined;
  const varnishd = ["/usr/sbin/varnishd", "/usr/local/sbin/varnishd"].find((p) => existsSync(p));
  if (!varnishd) {
    console.log("varnishd not found (bash .ci/install-varnish.sh installs it); the demo runs against the app only.");
    return undefined;
  }
  const workDir = await mkdtemp(join(tmpdir(), "cdn-example-"));
  await chmod(workDir, 0o755); // varnishd reads it as its own user when started as root
  const vcl = (await readFile(join(__dirname, "varnish.vcl"), "utf8")).replace(/\.port = "\d+";/, `.port = "${APP_PORT}";`);
  await writeFile(join(workDir, "site.vcl"), vcl, { mode: 0o644 });
  const args = ["-F", "-n", workDir, "-a", `127.0.0.1:${VARNISH_PORT}`, "-f", join(workDir, "site.vcl"), "-s", "malloc,64m"];
  if (process.getuid?.() !== 0) args.push("-j", "none");
  const child: ChildProcess = spawn(varnishd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  let ready = false;
  // The example VCL answers a PURGE without keys with 400: that says it is our VCL and it is up.
  for (let i = 0; i < 100 && !ready && child.exitCode === null; i += 1) {
    ready = await fetch(`${VARNISH_URL}/`, { method: "PURGE" }).then(
      (r) => r.status === 400,
      () => false,
    );
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  if (!ready) {
    console.log(`varnishd did not start; the demo runs against the app only:\n${output}`);
    child.kill("SIGTERM");
    await rm(workDir, { recursive: true, force: true });
    return undefined;
  }
  return {
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

async function show(label: string, response: Response): Promise<void> {
  const via = response.headers.get("x-varnish-cache") ?? "-";
  console.log(`${label.padEnd(38)} varnish=${via.padEnd(4)} app=${(response.headers.get("x-cache") ?? "-").padEnd(6)} ${(await response.text()).trim()}`);
}

async function main(): Promise<void> {
  const app = createExpressServer({ controllers: [ProductController] });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(APP_PORT, "127.0.0.1", () => resolve(s));
  });
  const varnish = await startVarnish();
  const front = varnish || process.env.VARNISH_URL ? VARNISH_URL : `http://127.0.0.1:${APP_PORT}`;
  console.log(`app on http://127.0.0.1:${APP_PORT}, requests below go through ${front}\n`);

  await show("GET /products/1 (first)", await fetch(`${front}/products/1`));
  await show("GET /products/1 (again)", await fetch(`${front}/products/1`));
  console.log(`POST price -> ${(await (await fetch(`http://127.0.0.1:${APP_PORT}/products/1/price/12`, { method: "POST" })).text()).trim()}`);
  await show("GET /products/1 (after invalidation)", await fetch(`${front}/products/1`));
  await show("GET /products/2 (other tag, first)", await fetch(`${front}/products/2`));

  const stop = async () => {
    await varnish?.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  if (process.argv.includes("--once")) return stop();
  console.log(`\nTry: curl -i ${front}/products/2 ; curl -X POST http://127.0.0.1:${APP_PORT}/products/2/price/30 (Ctrl+C to stop)`);
  process.once("SIGINT", () => void stop().then(() => process.exit(0)));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
