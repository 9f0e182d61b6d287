import { BaseSurrogateIndex } from "./base";

/**
 * Records nothing: for CDN-only setups where invalidation happens through the CDN's API.
 *
 * @example
 * new KeyvCacheBackend({ surrogateIndex: new NullSurrogateIndex() })
 */
export class NullSurrogateIndex extends BaseSurrogateIndex {
  async add(): Promise<void> {
    return undefined;
  }
  async getKeys(): Promise<string[]> {
    return [];
  }
  async remove(): Promise<void> {
    return undefined;
  }
}
