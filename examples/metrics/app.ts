/**
 * An Express app that exposes the cache's Prometheus metrics on /metrics.
 *
 *   npx ts-node examples/metrics/app.ts            # listens on 127.0.0.1:3000 (PORT to change)
 *   curl -s 127.0.0.1:3000/products >/dev/null; curl -s 127.0.0.1:3000/products >/dev/null
 *   curl -s 127.0.0.1:3000/metrics | grep cache_page_requests_total
 */
import "reflect-metadata";
import express from "express";
import { Registry, collectDefaultMetrics } from "prom-client";
import { Controller, Get, Param, useContainer, useExpressServer } from "routing-controllers";
import { Container, Service } from "typedi";
import { CachePage, generateCacheKey, surrogateFromModel } from "custom-cache-page";
import { registerCachePageMetrics } from "custom-cache-page/prometheus";

useContainer(Container);

@Service()
@Controller("/products")
export class ProductController {
  @Get("/")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey, tags: ["products"] })
  async list() {
    await new Promise((resolve) => setTimeout(resolve, 50)); // a slow query
    return JSON.stringify([{ id: 1, name: "shoe" }]);
  }

  @Get("/:id")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey, tags: [(req) => surrogateFromModel("product", req.params.id)] })
  one(@Param("id") id: string) {
    return JSON.stringify({ id, name: `product ${id}` });
  }
}

const registry = new Registry();
collectDefaultMetrics({ register: registry });
registerCachePageMetrics(registry);

const app = express();
app.get("/metrics", async (_req, res) => {
  res.type(registry.contentType).send(await registry.metrics());
});
useExpressServer(app, { controllers: [ProductController] });

const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, "127.0.0.1", () => console.log(`metrics example on http://127.0.0.1:${port} (GET /products, /products/1, /metrics)`));
process.once("SIGINT", () => server.close());
process.once("SIGTERM", () => server.close());
