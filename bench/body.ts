/**
 * The response body every benchmarked action returns: a realistic small JSON page (a product
 * list, about 1 KB once serialised). Bare, cached and apicache actions return the same object.
 */
export const BODY = {
  page: 1,
  pageSize: 6,
  total: 128,
  items: Array.from({ length: 6 }, (_, i) => ({
    id: 1000 + i,
    sku: `SKU-${(48213 + i * 7).toString(36).toUpperCase()}`,
    name: `Trail running shoe model ${i + 1}`,
    category: "shoes",
    price: { amount: 89.9 + i * 5, currency: "EUR" },
    inStock: i % 3 !== 0,
    tags: ["running", "outdoor"],
  })),
};

/** The body as routing-controllers sends it (JSON). */
export const BODY_BYTES = Buffer.from(JSON.stringify(BODY), "utf8");
