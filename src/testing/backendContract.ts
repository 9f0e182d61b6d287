import { deepStrictEqual, strictEqual } from "node:assert/strict";
import type { BaseCacheBackend } from "../backends/base";
import type { CachedResponse, CacheEntry } from "../model";

/**
 * The test functions of your framework, handed in so the suite works under mocha, node:test,
 * jest or vitest alike (the way `@keyv/test-suite` takes vitest's). Each `it` body returns a promise.
 *
 * @example
 * import { describe, it } from "node:test";
 * runBackendContract("MyBackend", () => new MyBackend(), { describe, it });
 */
export interface BackendContractFramework {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>): unknown;
}

/** What the contract suite may assume about the backend under test. */
export interface BackendContractOptions extends BackendContractFramework {
  /**
   * How long to wait, in ms, for an entry stored with `timeout: 1` to be gone (default 2,500).
   * Stores that reclaim on a schedule may need more; `0` skips the expiry test.
   */
  expiryWaitMs?: number;
  /** Prefix of the keys and tags the suite writes (default a random one per run), so a shared store can be used. */
  namespace?: string;
}

/** Builds a fresh backend for one test; it is closed (`close()`) when the test ends. */
export type MakeBackend = () => BaseCacheBackend | Promise<BaseCacheBackend>;

/**
 * Registers the behaviour every {@link BaseCacheBackend} that stores entries must have, as tests of
 * your framework: `get` / `set` / `delete`, expiry after `timeout` seconds, `invalidateBySurrogate`
 * deleting every entry of a tag (and saying how many), `invalidateBySurrogates` summing, and a
 * `prepareResponse` that keeps status and body and leaves its argument alone. The built-in
 * `KeyvCacheBackend` runs it too. Assertions use `node:assert`, so any framework reports them.
 *
 * @example
 * import { describe, it } from "mocha";
 * import { runBackendContract } from "custom-cache-page/testing";
 *
 * runBackendContract("MyBackend", () => new MyBackend({ url: process.env.MY_STORE_URL }), { describe, it });
 */
export function runBackendContract(name: string, makeBackend: MakeBackend, options: BackendContractOptions): void {
  const { describe, it } = options;
  const ns = options.namespace ?? `contract-${Math.random().toString(36).slice(2, 10)}`;
  const expiryWaitMs = options.expiryWaitMs ?? 2500;
  let sequence = 0;
  const fresh = (what: string) => `${ns}:${what}:${(sequence += 1)}`;

  const test = (title: string, body: (backend: BaseCacheBackend) => Promise<void>) =>
    it(title, async () => {
      const backend = await makeBackend();
      try {
        await body(backend);
      } finally {
        await backend.close();
      }
    });

  describe(`${name} (custom-cache-page backend contract)`, () => {
    test("get resolves undefined for a key that was never set", async (backend) => {
      strictEqual(await backend.get(fresh("missing")), undefined);
    });

    test("get returns the status, headers and exact body bytes that set stored", async (backend) => {
      const entry = sampleEntry(fresh("page"), []);
      await backend.set(entry);
      const got = await backend.get(entry.key);
      if (!got) throw new Error(`get("${entry.key}") found nothing right after set`);
      strictEqual(got.status, entry.response.status);
      deepStrictEqual(normaliseHeaders(got.headers), normaliseHeaders(entry.response.headers));
      strictEqual(Buffer.isBuffer(got.body), true, "body must be a Buffer");
      strictEqual(Buffer.compare(got.body, entry.response.body), 0, "body bytes differ from what was stored");
    });

    test("set replaces the entry under the same key", async (backend) => {
      const key = fresh("page");
      await backend.set(sampleEntry(key, [], "first"));
      await backend.set(sampleEntry(key, [], "second"));
      expectBody(await backend.get(key), "second");
    });

    test("keys are independent of each other", async (backend) => {
      const a = fresh("a");
      const b = fresh("b");
      await backend.set(sampleEntry(a, [], "A"));
      await backend.set(sampleEntry(b, [], "B"));
      expectBody(await backend.get(a), "A");
      expectBody(await backend.get(b), "B");
    });

    test("delete removes the entry and says whether there was one", async (backend) => {
      const key = fresh("page");
      await backend.set(sampleEntry(key, []));
      strictEqual(await backend.delete(key), true);
      strictEqual(await backend.get(key), undefined);
      strictEqual(await backend.delete(key), false);
    });

    if (expiryWaitMs > 0) {
      test(`an entry stored with timeout 1 is gone within ${expiryWaitMs} ms`, async (backend) => {
        const key = fresh("expiring");
        await backend.set({ ...sampleEntry(key, []), timeout: 1 });
        strictEqual((await backend.get(key)) !== undefined, true, "the entry should be there before it expires");
        await new Promise((resolve) => setTimeout(resolve, expiryWaitMs));
        strictEqual(await backend.get(key), undefined, "the entry is still served after its timeout");
      });
    }

    test("invalidateBySurrogate deletes every entry of the tag, keeps the others and returns how many it deleted", async (backend) => {
      const tag = fresh("tag");
      const other = fresh("other-tag");
      const tagged = [fresh("p"), fresh("p")];
      const untagged = fresh("p");
      for (const key of tagged) await backend.set(sampleEntry(key, [tag, other]));
      await backend.set(sampleEntry(untagged, [other]));
      strictEqual(await backend.invalidateBySurrogate(tag), tagged.length);
      for (const key of tagged) strictEqual(await backend.get(key), undefined, `${key} is still served after invalidating its tag`);
      strictEqual((await backend.get(untagged)) !== undefined, true, "an entry without the tag was deleted too");
    });

    test("invalidateBySurrogate of a tag nothing carries resolves 0", async (backend) => {
      strictEqual(await backend.invalidateBySurrogate(fresh("unused-tag")), 0);
    });

    test("invalidateBySurrogates invalidates each tag and returns the sum", async (backend) => {
      const [t1, t2] = [fresh("tag"), fresh("tag")];
      const [k1, k2, k3] = [fresh("p"), fresh("p"), fresh("p")];
      await backend.set(sampleEntry(k1, [t1]));
      await backend.set(sampleEntry(k2, [t2]));
      await backend.set(sampleEntry(k3, [t2]));
      strictEqual(await backend.invalidateBySurrogates([t1, t2]), 3);
      for (const key of [k1, k2, k3]) strictEqual(await backend.get(key), undefined);
    });

    test("an entry set again after its tag was invalidated is served", async (backend) => {
      const tag = fresh("tag");
      const key = fresh("p");
      await backend.set(sampleEntry(key, [tag], "old"));
      await backend.invalidateBySurrogate(tag);
      await backend.set(sampleEntry(key, [tag], "new"));
      expectBody(await backend.get(key), "new");
    });

    test("prepareResponse keeps status and body and does not change the response it is given", async (backend) => {
      const response = sampleEntry(fresh("p"), []).response;
      const before = structuredClone({ ...response, body: [...response.body] });
      const prepared = backend.prepareResponse(response, [fresh("tag")]);
      strictEqual(prepared.status, response.status);
      strictEqual(Buffer.compare(prepared.body, response.body), 0);
      deepStrictEqual({ ...response, body: [...response.body] }, before, "prepareResponse changed its argument: return a copy instead");
    });
  });
}

/** A body that is not valid UTF-8 text, so a backend that stores strings shows. */
function bodyFor(text: string): Buffer {
  return Buffer.concat([Buffer.from(text), Buffer.from([0, 255, 128, 10, 13])]);
}

function expectBody(response: CachedResponse | undefined, text: string): void {
  if (!response) throw new Error(`expected the entry with body "${text}", found nothing`);
  strictEqual(Buffer.compare(response.body, bodyFor(text)), 0, `expected the entry with body "${text}"`);
}

/** An entry with a binary body, a header with several values and the given tags. */
function sampleEntry(key: string, tags: string[], text = "page"): CacheEntry {
  const body = bodyFor(text);
  const response: CachedResponse = {
    status: 200,
    headers: { "content-type": "application/octet-stream", "content-length": String(body.length), vary: ["Accept", "Accept-Language"] },
    body,
  };
  return { key, response, timeout: 60, surrogateKeys: tags, metadata: {} };
}

function normaliseHeaders(headers: Record<string, string | string[]>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers)
      .map(([name, value]) => [name.toLowerCase(), Array.isArray(value) ? value.join(", ") : value] as const)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}
