/**
 * The same catalogue on Koa.
 *   npx ts-node examples/koa.ts   then   curl -i localhost:3001/products
 */
import "reflect-metadata";
import type { Server } from "node:http";
import { createKoaServer, useContainer } from "routing-controllers";
import { Container } from "typedi";
import { ProductController } from "./catalog";

/** Starts the app; port 0 picks a free one. */
export function startKoaCatalog(port = Number(process.env.PORT ?? 3001)): Promise<Server> {
  useContainer(Container);
  const app = createKoaServer({ controllers: [ProductController] });
  return new Promise((resolve) => {
    const server: Server = app.listen(port, "127.0.0.1", () => resolve(server));
  });
}

if (require.main === module) {
  void startKoaCatalog().then(() => console.log("catalogue on http://127.0.0.1:3001/products"));
}
