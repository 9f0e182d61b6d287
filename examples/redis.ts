/**
 * The catalogue on Express with Redis as the store: start two of these on different ports and
 * an invalidation through one is seen by the other at once.
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=3000 npx ts-node examples/redis.ts
 */
import "reflect-metadata";
import { configureCachePage } from "custom-cache-page";
import { startExpressCatalog } from "./express";

configureCachePage({
  backends: {
    default: { backend: "keyv", options: { store: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" } },
  },
});

void startExpressCatalog().then(() => console.log(`catalogue (Redis) on http://127.0.0.1:${process.env.PORT ?? 3000}/products`));
