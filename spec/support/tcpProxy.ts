import { type AddressInfo, createConnection, createServer, type Server, type Socket } from "node:net";

export interface TcpProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
}

/** One accepted client and its upstream socket (undefined until it is forwarded). */
interface ProxiedConnection {
  client: Socket;
  upstream?: Socket;
  /** Bytes read while paused, in order, per direction; `null` marks the sender's end of stream. */
  toUpstream: Array<Buffer | null>;
  toClient: Array<Buffer | null>;
}

/**
 * A TCP proxy on a free loopback port that a test can partition: while paused, every connection
 * (existing and new) stays open but no byte flows in either direction, as when a network path is
 * cut without a reset. New connections are accepted, and connected to the target only on resume.
 * `resume()` delivers what was held, in order. The HTTP side of an app behind it stays up, so a
 * test sees how the app behaves when it cannot reach its store.
 *
 * @example
 * const proxy = await TcpProxy.start({ targetHost: "127.0.0.1", targetPort: 6379 });
 * const client = createClient({ url: proxy.url }); // redis://127.0.0.1:<proxy.port>
 * await client.connect();
 * proxy.pause();  // client.ping() now waits
 * proxy.resume(); // ...and answers
 * await proxy.close();
 */
export class TcpProxy {
  private paused = false;
  private readonly connections = new Set<ProxiedConnection>();

  private constructor(
    private readonly server: Server,
    private readonly options: TcpProxyOptions,
    /** The port the proxy listens on. */
    readonly port: number,
  ) {
    server.on("connection", (client) => this.accept(client));
  }

  /** Starts a proxy to `targetHost:targetPort`, listening on a free port. */
  static async start(options: TcpProxyOptions): Promise<TcpProxy> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    // The constructor subscribes in a microtask after listen, before any connection (I/O) callback can run.
    return new TcpProxy(server, options, (server.address() as AddressInfo).port);
  }

  /** `redis://<host>:<port>` of the proxy. */
  get url(): string {
    return `redis://${this.options.host ?? "127.0.0.1"}:${this.port}`;
  }

  /** True while partitioned. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** How many client connections are open through the proxy. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Partitions: every connection, existing or new, stays open and carries nothing until {@link resume}. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    for (const conn of this.connections) {
      conn.client.pause();
      conn.upstream?.pause();
    }
  }

  /** Ends the partition: connects the connections accepted meanwhile and delivers what was held. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    for (const conn of this.connections) {
      if (conn.upstream === undefined) this.connectUpstream(conn);
      else this.flow(conn);
    }
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const conn of this.connections) {
      conn.client.destroy();
      conn.upstream?.destroy();
    }
    this.connections.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const conn: ProxiedConnection = { client, toUpstream: [], toClient: [] };
    this.connections.add(conn);
    client.setNoDelay(true);
    client.on("data", (chunk: Buffer) => this.carry(conn, chunk, "toUpstream"));
    client.on("end", () => this.carry(conn, null, "toUpstream"));
    client.on("error", () => this.drop(conn));
    client.on("close", () => this.drop(conn));
    if (!this.paused) this.connectUpstream(conn);
    // Paused: the client stays paused (pauseOnConnect) and unconnected until resume().
  }

  private connectUpstream(conn: ProxiedConnection): void {
    const upstream = createConnection({ host: this.options.targetHost, port: this.options.targetPort, allowHalfOpen: true });
    conn.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on("data", (chunk: Buffer) => this.carry(conn, chunk, "toClient"));
    upstream.on("end", () => this.carry(conn, null, "toClient"));
    upstream.on("error", () => this.drop(conn));
    upstream.on("close", () => this.drop(conn));
    upstream.once("connect", () => this.flow(conn));
    upstream.pause();
  }

  /** Forwards a chunk (or an end of stream) now, or holds it while paused. */
  private carry(conn: ProxiedConnection, chunk: Buffer | null, direction: "toUpstream" | "toClient"): void {
    if (this.paused || conn[direction].length > 0) {
      conn[direction].push(chunk);
      return;
    }
    this.deliver(conn, chunk, direction);
  }

  private deliver(conn: ProxiedConnection, chunk: Buffer | null, direction: "toUpstream" | "toClient"): void {
    const to = direction === "toUpstream" ? conn.upstream : conn.client;
    if (to === undefined || to.destroyed) return;
    if (chunk === null) to.end();
    else to.write(chunk);
  }

  /** Delivers what was held, then lets both sides read again. */
  private flow(conn: ProxiedConnection): void {
    if (this.paused || !this.connections.has(conn)) return;
    for (const direction of ["toUpstream", "toClient"] as const) {
      for (const chunk of conn[direction].splice(0)) this.deliver(conn, chunk, direction);
    }
    conn.client.resume();
    conn.upstream?.resume();
  }

  /** One side failed or closed: the other side goes too (a reset is not a partition). */
  private drop(conn: ProxiedConnection): void {
    if (!this.connections.delete(conn)) return;
    // Let what was already written reach the other side, then close it.
    conn.client.destroySoon();
    conn.upstream?.destroySoon();
  }
}
