import { createRequire } from "node:module";
import { expect } from "chai";
import { KeyvCacheBackend } from "../../src/backends/keyv";
import { configureCachePage, resetCachePageConfig } from "../../src/config/configure";
import { guardedStoreCall, isCircuitOpen } from "../../src/http/storeGuard";
import { isStoreDataError, isStoreHealthFailure } from "../../src/stores/storeHealth";
import { POSTGRES_URL, requireStore, uniqueNamespace } from "../support/stores";

const tags = [{ name: "q", versioned: false, versionTimeout: 864000 }];

/** The error PostgreSQL gives for a NUL in a text value, straight from the server. */
async function postgresNulError(): Promise<unknown> {
  const pg = createRequire(require.resolve("@keyv/postgres"))("pg") as {
    Pool: new (o: object) => { query(s: string, v: unknown[]): Promise<unknown>; end(): Promise<void> };
  };
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
  try {
    await pool.query("SELECT $1::text", ["a\u0000b"]);
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await pool.end();
  }
}

describe("store error classification", () => {
  it("calls refused connections, lost sockets, timeouts and overloaded servers health failures", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" });
    expect(isStoreHealthFailure(refused)).to.equal(true);
    expect(isStoreHealthFailure(Object.assign(new Error("x"), { name: "SocketClosedUnexpectedlyError" }))).to.equal(true);
    expect(isStoreHealthFailure(Object.assign(new Error("too many clients"), { code: "53300" }))).to.equal(true);
    expect(isStoreHealthFailure(new Error("LOADING Redis is loading the dataset in memory"))).to.equal(true);
    expect(isStoreHealthFailure(new AggregateError([refused], "all failed"))).to.equal(true);
    expect(isStoreHealthFailure(new Error("wrapped", { cause: refused }))).to.equal(true);
  });

  it("calls one statement's refused data a data error, not a health failure", () => {
    const nul = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: "22021" });
    expect(isStoreHealthFailure(nul)).to.equal(false);
    expect(isStoreDataError(nul)).to.equal(true);
    expect(isStoreDataError(new Error("store down")), "unknown errors are not data errors").to.equal(false);
    expect(isStoreHealthFailure(new Error("WRONGTYPE Operation against a key holding the wrong kind of value"))).to.equal(false);
  });

  describe("on PostgreSQL", () => {
    requireStore("postgres");
    let backend: KeyvCacheBackend;
    before(() => {
      configureCachePage({ storeTimeoutMs: 2000, circuitBreaker: { failureThreshold: 5, cooldownMs: 10_000 } });
      backend = new KeyvCacheBackend({ store: POSTGRES_URL, namespace: uniqueNamespace("breaker") });
    });
    after(async () => {
      await backend.close();
      await resetCachePageConfig();
    });

    it("classifies the server's own NUL refusal as data", async () => {
      const error = await postgresNulError();
      expect(error, "PostgreSQL refuses NUL in text").to.not.equal(undefined);
      expect(backend.isStoreHealthFailure(error)).to.equal(false);
    });

    it("six NUL-keyed requests neither fail nor open the circuit breaker", async () => {
      for (let i = 0; i < 6; i++) {
        const key = `:/search?q=\u0000${"\u0000".repeat(i)}`;
        const found = await guardedStoreCall(backend, "lookup", () => backend.lookup(key, tags));
        await guardedStoreCall(backend, "set", () =>
          backend.set({
            key,
            response: { status: 200, headers: {}, body: Buffer.from("r") },
            timeout: 60,
            surrogateKeys: ["q"],
            tags,
            token: found.token,
            metadata: {},
          }),
        );
      }
      expect(isCircuitOpen(backend)).to.equal(false);
    });

    it("six requests the store refuses for their data do not open it either", async () => {
      const error = await postgresNulError();
      for (let i = 0; i < 6; i++) await guardedStoreCall(backend, "lookup", () => Promise.reject(error)).catch(() => undefined);
      expect(isCircuitOpen(backend)).to.equal(false);
    });

    it("an unreachable PostgreSQL opens it after the threshold", async () => {
      const down = new KeyvCacheBackend({ store: "postgresql://postgres@127.0.0.1:1/test", namespace: uniqueNamespace("down") });
      try {
        for (let i = 0; i < 5; i++) await guardedStoreCall(down, "lookup", () => down.lookup(":/x", tags)).catch(() => undefined);
        expect(isCircuitOpen(down)).to.equal(true);
      } finally {
        await down.close().catch(() => undefined);
      }
    });
  });
});
