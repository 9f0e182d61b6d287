/**
 * The example app: a product catalogue whose "database" is slow, cached with @CachePage.
 * Used by `npm run demo` (examples/demo.ts) and runnable on its own:
 *   npx ts-node examples/express.ts
 */
import "reflect-metadata";
import { Body, Get, JsonController, NotFoundError, Param, Put, QueryParam } from "routing-controllers";
import { Service } from "typedi";
import { CachePage, generateCacheKey, Invalidator, surrogateFromModel, Tags, versioned } from "custom-cache-page";

export interface Product {
  id: number;
  name: string;
  price: number;
  category: string;
}

/** A deliberately slow data source: every read takes `delayMs`. */
@Service()
export class ProductRepository {
  delayMs = 300;
  private products: Product[] = [
    { id: 1, name: "Trail shoe", price: 120, category: "shoes" },
    { id: 2, name: "Rain jacket", price: 180, category: "jackets" },
    { id: 3, name: "Wool hat", price: 35, category: "hats" },
  ];

  async list(category?: string): Promise<Product[]> {
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return this.products.filter((p) => !category || p.category === category);
  }

  async one(id: number): Promise<Product | undefined> {
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return this.products.find((p) => p.id === id);
  }

  async update(id: number, changes: Partial<Product>): Promise<Product> {
    const product = this.products.find((p) => p.id === id);
    if (!product) throw new NotFoundError(`no product ${id}`);
    Object.assign(product, changes, { id });
    return product;
  }
}

@Service()
@JsonController("/products")
export class ProductController {
  constructor(
    private readonly repository: ProductRepository,
    private readonly invalidator: Invalidator,
  ) {}

  @Get("/")
  @CachePage({
    timeout: 300,
    keyFunc: generateCacheKey,
    tags: ["products", (req) => (req.query.category ? `category-${req.query.category}` : null)],
  })
  list(@QueryParam("category") category?: string) {
    return this.repository.list(category);
  }

  @Get("/:id")
  @CachePage({ timeout: 300, keyFunc: (req) => req.path })
  @Tags((req) => surrogateFromModel("Product", req.params.id), versioned("prices"))
  async one(@Param("id") id: number) {
    const product = await this.repository.one(id);
    if (!product) throw new NotFoundError(`no product ${id}`);
    return product;
  }

  @Put("/:id")
  async update(@Param("id") id: number, @Body() changes: Partial<Product>) {
    const product = await this.repository.update(id, changes);
    const deleted = await this.invalidator.invalidateTags(["products", surrogateFromModel("Product", id)]);
    return { product, invalidated: deleted };
  }

  @Put("/prices/reset")
  async resetPrices() {
    // A versioned tag: O(1), whatever the number of product pages cached.
    return { version: await this.invalidator.invalidateTag("prices") };
  }
}
