import { expect } from "chai";
import { createServer } from "node:net";
import { BackendOptionsError } from "../../../src/config/errors";
import {
  backoffDelayMs,
  batchKeys,
  CdnPurgeError,
  CdnRequestError,
  dedupeKeys,
  PurgeClient,
  serverRetryDelayMs,
  type PurgeClientOptions,
  type PurgeClock,
  type PurgeTransport,
} from "../../../src/backends/cdn/purgeClient";
import { FakeCdnApi, startFakeFastly } from "../../support/fakeCdnApis";

/** A clock whose sleep only moves time forward, recording each wait. */
function fakeClock(): PurgeClock & { waits: number[] } {
  let now = Date.now();
  const waits: number[] = [];
  return { waits, now: () => now, sleep: async (ms) => void (waits.push(ms), (now += ms)) };
}

/** A minimal Fastly-shaped transport pointed at the fake API. */
function transportTo(api: FakeCdnApi): PurgeTransport {
  return {
    cdn: "TestCDN",
    requestsFor: (keys) => [
      {
        url: `${api.endpoint}/service/svc/purge`,
        method: "POST",
        headers: { "fastly-key": "token", "content-type": "application/json" },
        body: JSON.stringify({ surrogate_keys: keys }),
      },
    ],
    readResponse: async (response, keys) => {
      await response.arrayBuffer();
      return keys.length;
    },
    hintFor: (status) => (status === 401 ? "check apiToken" : undefined),
  };
}

const fast: Partial<PurgeClientOptions> = { retryBaseDelayMs: 1, retryMaxDelayMs: 5, timeoutMs: 2000 };

describe("PurgeClient", () => {
  let api: FakeCdnApi;
  beforeEach(async () => {
    api = await startFakeFastly({ apiToken: "token", serviceId: "svc" });
  });
  afterEach(async () => {
    await api.close();
    expect(api.problems, "requests the fake API refused as malformed").to.deep.equal([]);
  });

  describe("pure parts", () => {
    it("removes repeated keys, keeping the first and the order", () => {
      expect(dedupeKeys(["b", "a", "b", "c", "a"])).to.deep.equal(["b", "a", "c"]);
      expect(dedupeKeys(["A", "a", "b"], (k) => k.toLowerCase())).to.deep.equal(["A", "b"]);
    });

    it("cuts batches by count and by joined bytes", () => {
      expect(batchKeys(["a", "b", "c", "d", "e"], 2)).to.deep.equal([["a", "b"], ["c", "d"], ["e"]]);
      // "aaa bbb" is 7 bytes; adding " ccc" would make 11.
      expect(batchKeys(["aaa", "bbb", "ccc"], 100, 10)).to.deep.equal([["aaa", "bbb"], ["ccc"]]);
      expect(batchKeys(["x".repeat(20), "y"], 100, 10)).to.deep.equal([["x".repeat(20)], ["y"]]);
      expect(batchKeys([], 5)).to.deep.equal([]);
    });

    it("reads Retry-After in seconds and as an HTTP date, and Fastly-RateLimit-Reset in epoch seconds", () => {
      const now = Date.parse("2025-01-01T00:00:00Z");
      expect(serverRetryDelayMs(new Headers({ "retry-after": "3" }), now)).to.equal(3000);
      expect(serverRetryDelayMs(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:07 GMT" }), now)).to.equal(7000);
      expect(serverRetryDelayMs(new Headers({ "fastly-ratelimit-reset": String(now / 1000 + 12) }), now)).to.equal(12000);
      expect(serverRetryDelayMs(new Headers({ "retry-after": "2", "fastly-ratelimit-reset": String(now / 1000 + 5) }), now)).to.equal(5000);
    });

    it("treats a past date as 'now' and ignores values it cannot read", () => {
      const now = Date.parse("2025-01-01T00:00:00Z");
      expect(serverRetryDelayMs(new Headers({ "retry-after": "Tue, 31 Dec 2024 23:59:00 GMT" }), now)).to.equal(0);
      expect(serverRetryDelayMs(new Headers({ "retry-after": "soon" }), now)).to.equal(undefined);
      expect(serverRetryDelayMs(new Headers({ "fastly-ratelimit-reset": "-4" }), now)).to.equal(undefined);
      expect(serverRetryDelayMs(new Headers(), now)).to.equal(undefined);
    });

    it("doubles the backoff on each retry up to the cap, with jitter between half and all of it", () => {
      expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, 100, 1000, () => 1))).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
      expect(backoffDelayMs(3, 100, 1000, () => 0)).to.equal(200);
      for (let i = 0; i < 50; i += 1) expect(backoffDelayMs(2, 100, 1000)).to.be.within(100, 200);
    });
  });

  it("sends each key once, in batches no larger than batchSize", async () => {
    const keys = Array.from({ length: 600 }, (_, i) => `k${i % 550}`);
    const client = new PurgeClient(transportTo(api), { ...fast, batchSize: 256 });
    expect(await client.purge(keys)).to.equal(550);
    expect(api.received.map((r) => r.keys.length)).to.have.members([256, 256, 38]);
    expect(api.purgedKeys()).to.have.members(Array.from({ length: 550 }, (_, i) => `k${i}`));
  });

  it("sends nothing for no keys", async () => {
    expect(await new PurgeClient(transportTo(api), { batchSize: 10 }).purge([])).to.equal(0);
    expect(api.received).to.deep.equal([]);
  });

  it("keeps at most `concurrency` requests in flight", async () => {
    api.delayMs = 30;
    const client = new PurgeClient(transportTo(api), { ...fast, batchSize: 1, concurrency: 3 });
    expect(await client.purge(Array.from({ length: 10 }, (_, i) => `k${i}`))).to.equal(10);
    expect(api.maxInFlight).to.equal(3);
    expect(api.received).to.have.length(10);
  });

  it("retries 5xx with exponentially growing waits until it succeeds", async () => {
    api.enqueue({ status: 503 }, { status: 502 }, { status: 500 });
    const clock = fakeClock();
    const client = new PurgeClient(transportTo(api), { batchSize: 10, retryBaseDelayMs: 100, clock, random: () => 1 });
    expect(await client.purge(["a", "b"])).to.equal(2);
    expect(api.received.map((r) => r.status)).to.deep.equal([503, 502, 500, 200]);
    expect(clock.waits).to.deep.equal([100, 200, 400]);
  });

  it("waits as long as Retry-After says, in seconds or as an HTTP date", async () => {
    const clock = fakeClock();
    api.enqueue({ status: 429, headers: { "retry-after": "2" } }, { status: 429, headers: { "retry-after": new Date(clock.now() + 5000).toUTCString() } });
    const client = new PurgeClient(transportTo(api), { batchSize: 10, retryBaseDelayMs: 1, clock });
    expect(await client.purge(["a"])).to.equal(1);
    expect(clock.waits[0]).to.equal(2000);
    // The date is 5 s after the start, 2 s of which were already waited; an HTTP date drops the milliseconds.
    expect(clock.waits[1]).to.be.within(2000, 3000);
  });

  it("waits until Fastly-RateLimit-Reset", async () => {
    const clock = fakeClock();
    const reset = Math.ceil(clock.now() / 1000) + 30;
    api.enqueue({ status: 429, headers: { "fastly-ratelimit-reset": String(reset) } });
    const client = new PurgeClient(transportTo(api), { batchSize: 10, clock, retryBudgetMs: 60_000 });
    expect(await client.purge(["a"])).to.equal(1);
    expect(clock.waits).to.have.length(1);
    expect(clock.waits[0]).to.be.within(30_000, 31_000);
  });

  it("gives up at once when the server asks for a wait past retryBudgetMs, and says which option to raise", async () => {
    api.respond = () => ({ status: 429, headers: { "retry-after": "3600" } });
    const started = Date.now();
    const client = new PurgeClient(transportTo(api), { ...fast, batchSize: 10, retryBudgetMs: 1000 });
    const error = await client.purge(["a"]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(CdnPurgeError);
    const cause = (error as CdnPurgeError).failures[0].error;
    expect(cause.status).to.equal(429);
    expect(cause.attempts).to.equal(1);
    expect(cause.message).to.match(/waiting 3600000 ms more as the server asked would pass retryBudgetMs=1000; raise it/);
    expect(Date.now() - started).to.be.below(500);
  });

  it("stops after maxRetries retries and reports the attempts", async () => {
    api.respond = () => ({ status: 500 });
    const client = new PurgeClient(transportTo(api), { ...fast, batchSize: 10, maxRetries: 3 });
    const error = (await client.purge(["a"]).catch((e: unknown) => e)) as CdnPurgeError;
    expect(api.received).to.have.length(4);
    expect(error.failures[0].error.attempts).to.equal(4);
    expect(error.message).to.match(/TestCDN answered HTTP 500 .*\(gave up after 4 attempts; raise maxRetries/);
  });

  it("keeps total retry time within retryBudgetMs", async () => {
    api.respond = () => ({ status: 503 });
    const clock = fakeClock();
    const client = new PurgeClient(transportTo(api), {
      batchSize: 10,
      maxRetries: 100,
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 1000,
      retryBudgetMs: 5000,
      clock,
      random: () => 1,
    });
    await client.purge(["a"]).catch(() => undefined);
    const total = clock.waits.reduce((a, b) => a + b, 0);
    expect(total).to.be.at.most(5000);
    // 4500 ms waited; one more second would pass the budget.
    expect(clock.waits).to.deep.equal([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it("does not retry a request the API refused for good, and passes on the hint", async () => {
    const transport = {
      ...transportTo(api),
      requestsFor: (keys: string[]) =>
        transportTo(api)
          .requestsFor(keys)
          .map((r) => ({ ...r, headers: { ...r.headers, "fastly-key": "wrong" } })),
    };
    const error = (await new PurgeClient(transport, { ...fast, batchSize: 10 }).purge(["a"]).catch((e: unknown) => e)) as CdnPurgeError;
    expect(api.received).to.have.length(1);
    expect(error.failures[0].error.retryable).to.equal(false);
    expect(error.message).to.include("HTTP 401").and.include("check apiToken");
  });

  it("times out a request that gets no answer, retries it, and says which option to raise", async () => {
    api.respond = () => ({ hang: true });
    const started = Date.now();
    const client = new PurgeClient(transportTo(api), { ...fast, batchSize: 10, timeoutMs: 60, maxRetries: 1 });
    const error = (await client.purge(["a"]).catch((e: unknown) => e)) as CdnPurgeError;
    expect(Date.now() - started).to.be.below(1000);
    expect(api.received).to.have.length(2);
    expect(error.failures[0].error).to.be.instanceOf(CdnRequestError);
    expect(error.failures[0].error.message).to.match(/did not answer POST .* within 60 ms \(raise timeoutMs/);
  });

  it("reports an unreachable endpoint as a network error after retrying", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const transport: PurgeTransport = {
      ...transportTo(api),
      requestsFor: (keys) => [{ url: `http://127.0.0.1:${port}/purge`, method: "POST", headers: {}, body: keys.join(" ") }],
    };
    const error = (await new PurgeClient(transport, { ...fast, batchSize: 10, maxRetries: 2 }).purge(["a"]).catch((e: unknown) => e)) as CdnPurgeError;
    expect(error.failures[0].error.attempts).to.equal(3);
    expect(error.message).to.match(/could not be reached at POST http:\/\/127\.0\.0\.1:\d+\/purge: .*ECONNREFUSED/);
  });

  it("runs every batch and reports all failed ones in one aggregated error", async () => {
    api.respond = (request) => (request.keys.some((k) => k.startsWith("bad")) ? { status: 503, body: { msg: "backend down" } } : undefined);
    const keys = ["ok1", "ok2", "bad1", "bad2", "ok3", "ok4", "bad3", "ok5"];
    const client = new PurgeClient(transportTo(api), { ...fast, batchSize: 2, maxRetries: 2 });
    const error = (await client.purge(keys).catch((e: unknown) => e)) as CdnPurgeError;
    expect(error).to.be.instanceOf(CdnPurgeError).and.instanceOf(AggregateError);
    expect(error.failedKeys).to.deep.equal(["bad1", "bad2", "bad3", "ok5"]);
    expect(error.failures.map((f) => f.keys)).to.deep.equal([
      ["bad1", "bad2"],
      ["bad3", "ok5"],
    ]);
    expect(error.errors).to.have.length(2);
    expect(error.purged).to.equal(4);
    expect(api.purgedKeys()).to.have.members(["ok1", "ok2", "ok3", "ok4"]);
    expect(error.message).to.match(/^TestCDN purge failed for 4 of 8 key\(s\) \(2 of 4 request\(s\) failed; the others were purged\)/);
    expect(error.message).to.include("[bad1, bad2]").and.include("backend down");
  });

  it("backs off for real in milliseconds when configured so", async () => {
    api.respond = () => ({ status: 503 });
    const started = Date.now();
    const client = new PurgeClient(transportTo(api), { batchSize: 10, maxRetries: 4, retryBaseDelayMs: 10, retryMaxDelayMs: 20, random: () => 1 });
    await client.purge(["a"]).catch(() => undefined);
    const elapsed = Date.now() - started;
    // Waits of 10 + 20 + 20 + 20 ms between five attempts.
    expect(elapsed).to.be.within(70, 1000);
    expect(api.received).to.have.length(5);
  });

  it("refuses settings that cannot work", () => {
    expect(() => new PurgeClient(transportTo(api), { batchSize: 0 })).to.throw(BackendOptionsError, /options at batchSize: batchSize must be at least 1/);
    expect(() => new PurgeClient(transportTo(api), { batchSize: 1, timeoutMs: -1 })).to.throw(
      BackendOptionsError,
      /options at timeoutMs: timeoutMs must be a positive number/,
    );
    expect(() => new PurgeClient(transportTo(api), { batchSize: 1, maxRetries: Number.NaN })).to.throw(
      BackendOptionsError,
      /options at maxRetries: .*maxRetries must be a whole number/,
    );
  });
});
