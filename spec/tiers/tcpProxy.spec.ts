import { createClient } from "@keyv/redis";
import { expect } from "chai";
import { sleep } from "../support/apps";
import { REDIS_URL, requireStore } from "../support/stores";
import { TcpProxy } from "../support/tcpProxy";

const clientOf = (url: string, connectTimeout = 5000) => createClient({ url, socket: { reconnectStrategy: false, connectTimeout } });
type RedisClient = ReturnType<typeof clientOf>;

/** Resolves to what `promise` gave, or to "no answer" when it did not settle within `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | "no answer"> {
  return Promise.race([promise, sleep(ms).then(() => "no answer" as const)]);
}

describe("TcpProxy (the partition the tier tests use)", function () {
  this.timeout(10000);
  requireStore("redis");
  const target = new URL(REDIS_URL);
  let proxy: TcpProxy;
  const clients: RedisClient[] = [];

  async function clientThroughProxy(): Promise<RedisClient> {
    const client = clientOf(proxy.url);
    client.on("error", () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  }

  beforeEach(async () => {
    proxy = await TcpProxy.start({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) if (client.isOpen) client.destroy();
    await proxy.close();
  });

  it("forwards a PING to Redis and its answer back", async () => {
    expect(proxy.url).to.equal(`redis://127.0.0.1:${proxy.port}`);
    const client = await clientThroughProxy();
    expect(await client.ping()).to.equal("PONG");
  });

  it("holds a PING while paused and delivers it and its answer on resume", async () => {
    const client = await clientThroughProxy();
    expect(await client.ping()).to.equal("PONG");
    proxy.pause();
    const pending = client.ping();
    expect(await within(pending, 300)).to.equal("no answer");
    expect(proxy.connectionCount).to.equal(1); // the connection stays open: a partition, not a reset
    proxy.resume();
    expect(await within(pending, 2000)).to.equal("PONG");
  });

  it("accepts a connection while paused and connects it to Redis only on resume", async () => {
    proxy.pause();
    const client = clientOf(proxy.url);
    client.on("error", () => undefined);
    clients.push(client);
    const connected = client.connect().then(() => client.ping());
    expect(await within(connected, 300)).to.equal("no answer");
    expect(proxy.connectionCount).to.equal(1);
    proxy.resume();
    expect(await within(connected, 2000)).to.equal("PONG");
  });

  it("keeps the order of commands held across several pauses", async () => {
    const client = await clientThroughProxy();
    const key = `ccpt-proxy-${process.pid}-${Date.now()}`;
    try {
      const replies: Array<Promise<unknown>> = [];
      for (let round = 0; round < 3; round += 1) {
        proxy.pause();
        for (let i = 0; i < 5; i += 1) replies.push(client.incr(key));
        await sleep(50);
        proxy.resume();
      }
      expect(await Promise.all(replies)).to.deep.equal(Array.from({ length: 15 }, (_, i) => i + 1));
    } finally {
      await client.del(key);
    }
  });

  it("closes its connections and stops listening on close", async () => {
    const client = await clientThroughProxy();
    await proxy.close();
    const ping = await within(
      client.ping().catch((error: Error) => error),
      2000,
    );
    expect(ping, "a PING on a connection the proxy closed").to.be.instanceOf(Error);
    const again = clientOf(proxy.url, 1000);
    again.on("error", () => undefined);
    let refused: unknown;
    await again.connect().catch((error: unknown) => (refused = error));
    expect(refused, "a connection after close").to.be.instanceOf(Error);
    proxy = await TcpProxy.start({ targetHost: target.hostname, targetPort: Number(target.port || 6379) }); // for afterEach
  });
});
