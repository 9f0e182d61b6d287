/**
 * One app instance of the multi-process tier tests, run as its own process:
 *
 *   REDIS=redis://127.0.0.1:6379 ORACLE_REDIS=redis://127.0.0.1:6379 NAMESPACE=ns LEASE_MS=1000 LOCAL=1 \
 *     node -r ts-node/register/transpile-only -r reflect-metadata spec/support/tierInstance.ts
 *
 * - REDIS: the cache store URL (redis://, or redis+cluster://; may point at a TcpProxy).
 * - ORACLE_REDIS: a Redis the action reads the generation counter `<NAMESPACE>:gen` from, over a
 *   connection of its own that never goes through the proxy, so the action works during a partition.
 * - NAMESPACE: the cache namespace (and the counter's prefix). LEASE_MS: the local tier's lease.
 * - LOCAL=1: enables the local tier (SPEC §9); anything else: the shared store alone.
 *
 * Prints `READY <port>` on stdout once it listens; on SIGTERM it closes the server and
 * `closeCachePage()`, and must then exit by itself (exit code 3 says something kept it alive).
 * spec/support/tierInstances.ts starts and stops these.
 */
import "reflect-metadata";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "@keyv/redis";
import type { Response } from "express";
import { createExpressServer, Get, JsonController, Param, Post, Res, useContainer } from "routing-controllers";
import { Container, Service } from "typedi";
import { CachePage, type CacheRequest, closeCachePage, configureCachePage, invalidateTag } from "../../src";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`tierInstance: the ${name} environment variable is required`);
    process.exit(2);
  }
  return value;
}

const STORE_URL = required("REDIS");
const ORACLE_URL = required("ORACLE_REDIS");
const NAMESPACE = required("NAMESPACE");
const LEASE_MS = Number(process.env.LEASE_MS ?? 1000);
const LOCAL = process.env.LOCAL === "1";

// Its own connection: never through the proxy, and failing fast rather than queueing while down.
const oracle = createClient({ url: ORACLE_URL, disableOfflineQueue: true });
oracle.on("error", (error: Error) => console.error(`tierInstance: oracle Redis: ${error.message}`));

useContainer(Container);

configureCachePage({
  backends: {
    default: {
      backend: "keyv",
      options: { store: STORE_URL, namespace: NAMESPACE, ...(LOCAL ? { local: { leaseMs: LEASE_MS } } : {}) },
    },
  },
});

/** The page the tests read, and the invalidation they trigger. */
@Service()
@JsonController()
export class TierPageController {
  @Get("/page/:id")
  // One key for every instance (the Host differs by port): instances share entries, as behind a load balancer.
  @CachePage({ timeout: 60, keyFunc: (req: CacheRequest) => `page-${req.params.id}`, tags: ["gen", (req: CacheRequest) => `page-${req.params.id}`] })
  async page(@Param("id") id: string) {
    const gen = Number((await oracle.get(`${NAMESPACE}:gen`)) ?? 0);
    return { gen, id, computedAt: Date.now(), pid: process.pid };
  }

  @Post("/invalidate/:tag")
  async invalidate(@Param("tag") tag: string, @Res() res: Response) {
    const started = performance.now();
    try {
      const result = await invalidateTag(tag);
      return { ok: true, ms: performance.now() - started, result };
    } catch (error) {
      res.status(500);
      const e = error as Error;
      return { ok: false, ms: performance.now() - started, error: `${e.name}: ${e.message}` };
    }
  }
}

async function main(): Promise<void> {
  await oracle.connect();
  const app = createExpressServer({ controllers: [TierPageController], defaultErrorHandler: true, development: false });
  const server: Server = await new Promise((resolve, reject) => {
    const s: Server = app.listen(0, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
  process.once("SIGTERM", () => void stop(server));
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
}

async function stop(server: Server): Promise<void> {
  server.close();
  server.closeAllConnections();
  await closeCachePage();
  await oracle.close();
  // Everything is closed: the process should end now on its own (SPEC §7).
  const watchdog = setTimeout(() => {
    console.error("tierInstance: still alive 3 s after closeCachePage() resolved; something keeps the process running");
    process.exit(3);
  }, 3000);
  watchdog.unref();
}

process.on("unhandledRejection", (reason) => console.error("tierInstance: unhandled rejection", reason));

main().catch((error: unknown) => {
  console.error("tierInstance: could not start", error);
  process.exit(1);
});
