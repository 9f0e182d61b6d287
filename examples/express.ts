/**
 * The catalogue on Express, with the in-memory default store.
 *   npx ts-node examples/express.ts   then   curl -i localhost:3000/products
 */
import "reflect-metadata";
import type { Server } from "node:http";
import { createExpressServer, useContainer } from "routing-controllers";
import { Container } from "typedi";
import { ProductController } from "./catalog";

/** Starts the app; port 0 picks a free one. */
export function startExpressCatalog(port = Number(process.env.PORT ?? 3000)): Promise<Server> {
  useContainer(Container);
  const app = createExpressServer({ controllers: [ProductController] });
  return new Promise((resolve) => {
    const server: Server = app.listen(port, "127.0.0.1", () => resolve(server));
  });
}

if (require.main === module) {
  void startExpressCatalog().then((server) => {
    const address = server.address();
    console.log(`catalogue on http://127.0.0.1:${typeof address === "object" && address ? address.port : "?"}/products`);
  });
}
