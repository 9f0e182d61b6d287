// The scratch app of .ci/run: what a user writes after `npm install custom-cache-page`, compiled
// with tsc against the packed tarball and run once. It serves one action twice and exits non-zero
// unless the second request is a cache hit with the same body.
import "reflect-metadata";
import type { AddressInfo } from "node:net";
import { createExpressServer, Get, JsonController, useContainer } from "routing-controllers";
import { Container, Service } from "typedi";
import { CachePage, closeCachePage, generateCacheKey, invalidateTag } from "custom-cache-page";
import { CdnTagHeaderFormatter, FASTLY_TAG_HEADER } from "custom-cache-page/cdn";
import { ActionCallCounter, expectHit, expectMiss } from "custom-cache-page/testing";

const calls = new ActionCallCounter();

@Service()
@JsonController("/products")
class ProductController {
  @Get("/")
  @CachePage({ timeout: 60, keyFunc: generateCacheKey, tags: ["products"] })
  @calls.counts("list")
  list() {
    return [{ id: 1, name: "chair" }];
  }
}

async function main(): Promise<void> {
  useContainer(Container);
  const app = createExpressServer({ controllers: [ProductController] });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/products`;
  try {
    const first = await fetch(url);
    const firstBody = await first.text();
    expectMiss(first);
    const second = await fetch(url);
    expectHit(second);
    if ((await second.text()) !== firstBody) throw new Error("the hit's body differs from the miss's");
    if (calls.count("list") !== 1) throw new Error(`the action ran ${calls.count("list")} times, expected 1`);
    const deleted = await invalidateTag("products");
    expectMiss(await fetch(url));
    void new CdnTagHeaderFormatter(FASTLY_TAG_HEADER);
    console.log(`scratch app: MISS then HIT from the packed package; invalidateTag deleted ${deleted} entry`);
  } finally {
    server.close();
    await closeCachePage();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
