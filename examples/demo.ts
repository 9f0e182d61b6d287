/**
 * `npm run demo`: starts the example catalogue (Express, in-memory cache) and takes a short
 * scripted tour, printing for each request whether the cache answered (HIT) or the slow action
 * ran (MISS), how long it took, and what each invalidation did.
 */
import "reflect-metadata";
import type { AddressInfo } from "node:net";
import { startExpressCatalog } from "./express";

async function main(): Promise<void> {
  const server = await startExpressCatalog(0);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const call = async (method: string, path: string, body?: unknown, note = "") => {
    const started = process.hrtime.bigint();
    const res = await fetch(base + path, {
      method,
      headers: body ? { "content-type": "application/json" } : undefined,
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const cache = res.headers.get("x-cache") ?? "-";
    console.log(
      `${method.padEnd(4)} ${path.padEnd(28)} ${res.status}  ${cache.padEnd(6)} ${ms.toFixed(1).padStart(7)} ms` +
        (res.headers.get("age") ? `  age=${res.headers.get("age")}` : "") +
        (note ? `  ${note}` : ""),
    );
    return { res, text };
  };
  const say = (line: string) => console.log(`\n# ${line}`);

  say("The product list: the first request runs the slow action (300 ms), the next ones come from the cache.");
  await call("GET", "/products");
  await call("GET", "/products");
  await call("GET", "/products");

  say("Query parameters are part of the key: another category is its own entry.");
  await call("GET", "/products?category=shoes");
  await call("GET", "/products?category=shoes");

  say("One product page (tagged model-product-1 and the versioned tag 'prices').");
  await call("GET", "/products/1");
  await call("GET", "/products/1");

  say("Update product 1: the action invalidates the tags 'products' and 'model-product-1'.");
  const { text } = await call("PUT", "/products/1", { price: 99 });
  console.log(`     -> ${JSON.parse(text).invalidated} cached pages deleted`);
  const fresh = await call("GET", "/products", undefined, "(fresh data)");
  console.log(`     -> product 1 now costs ${JSON.parse(fresh.text)[0].price}`);
  await call("GET", "/products/1");
  await call("GET", "/products/1");
  await call("GET", "/products/2", undefined, "(first visit)");
  await call("GET", "/products/2");

  say("Reset prices: invalidating the versioned tag 'prices' is O(1), a version bump.");
  const reset = await call("PUT", "/products/prices/reset");
  console.log(`     -> new version ${JSON.parse(reset.text).version}`);
  await call("GET", "/products/1", undefined, "(older version: a miss)");
  await call("GET", "/products/2", undefined, "(older version: a miss)");
  await call("GET", "/products/2");

  say("Other methods pass through the cache untouched; a HEAD is answered from the GET entry.");
  await call("HEAD", "/products");

  await new Promise((resolve) => server.close(resolve));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
