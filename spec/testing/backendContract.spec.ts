import { after, describe, it } from "mocha";
import { BaseCacheBackend, KeyvCacheBackend, type CachedResponse, type CacheEntry } from "../../src";
import { runBackendContract } from "../../src/testing";
import { requireStore, storeCase, uniqueNamespace } from "../support/stores";

// The built-in backend that stores entries runs the contract users run against their own.
runBackendContract("KeyvCacheBackend (memory)", () => new KeyvCacheBackend(), { describe, it });

for (const name of ["redis", "sqlite", "postgres"] as const) {
  describe(`the contract on ${name}`, () => {
    requireStore(name);
    const namespace = uniqueNamespace(`contract-${name}`);
    after(() => storeCase(name).clear(namespace));
    runBackendContract(`KeyvCacheBackend (${name})`, () => new KeyvCacheBackend({ store: storeCase(name).store(), namespace }), { describe, it });
  });
}

/** The docs/custom-backends.md sample: a Map with expiry and a tag index. */
class MapBackend extends BaseCacheBackend {
  private readonly entries = new Map<string, { response: CachedResponse; expiresAt: number; tags: string[] }>();
  private readonly tagged = new Map<string, Set<string>>();

  async get(key: string): Promise<CachedResponse | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() >= entry.expiresAt) {
      await this.delete(key);
      return undefined;
    }
    return entry.response;
  }

  async set(entry: CacheEntry): Promise<void> {
    await this.delete(entry.key);
    this.entries.set(entry.key, { response: entry.response, expiresAt: Date.now() + entry.timeout * 1000, tags: entry.surrogateKeys });
    for (const tag of entry.surrogateKeys) {
      const keys = this.tagged.get(tag) ?? new Set<string>();
      this.tagged.set(tag, keys.add(entry.key));
    }
  }

  async delete(key: string): Promise<boolean> {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    for (const tag of entry.tags) this.tagged.get(tag)?.delete(key);
    return true;
  }

  async invalidateBySurrogate(tag: string): Promise<number> {
    let deleted = 0;
    for (const key of [...(this.tagged.get(tag) ?? [])]) if (await this.delete(key)) deleted += 1;
    this.tagged.delete(tag);
    return deleted;
  }
}

runBackendContract("a custom Map backend", () => new MapBackend(), { describe, it });
