import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * How the fake API answers one request; anything left out is the CDN's normal success.
 *
 * @example
 * api.enqueue({ status: 429, headers: { "retry-after": "1" } }, { status: 503 });
 */
export interface FakeReply {
  status?: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON, a string as is. */
  body?: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer (the client's timeout must fire). */
  hang?: boolean;
}

/**
 * One request the fake API received, well-formed or not.
 *
 * @example
 * expect(api.received[0].headers["fastly-soft-purge"]).to.equal("1");
 */
export interface ReceivedPurge {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  /** The keys of the body (`surrogate_keys` or `tags`), empty when the body was not readable. */
  keys: string[];
  /** The status it was answered with (undefined while hanging). */
  status?: number;
  receivedAt: number;
}

type Kind = "fastly" | "cloudflare";

/**
 * A loopback stand-in for Fastly's or Cloudflare's purge API. It checks what a real API would
 * refuse (method, path, auth header, body shape, batch size, key syntax, repeated keys) and records
 * any violation in `problems` (answering 400), so a test can assert the client only sent valid
 * requests. Replies can be scripted per request to simulate 429, 5xx, `success:false` or hangs.
 *
 * @example
 * const api = await startFakeFastly({ apiToken: "t", serviceId: "svc" });
 * api.enqueue({ status: 503 });
 * await new FastlyBackend({ apiToken: "t", serviceId: "svc", endpoint: api.endpoint }).invalidateBySurrogate("a");
 * expect(api.problems).to.deep.equal([]);
 */
export class FakeCdnApi {
  readonly received: ReceivedPurge[] = [];
  readonly problems: string[] = [];
  /** Scripted replies, used in order of arrival before falling back to `respond` and then success. */
  readonly replies: FakeReply[] = [];
  /** Per-request reply (after the queue); return undefined for the normal success. */
  respond?: (request: ReceivedPurge, index: number) => FakeReply | undefined;
  /** Delay of every answer (to make requests overlap when measuring concurrency). */
  delayMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  endpoint = "";

  private server?: Server;

  constructor(
    readonly kind: Kind,
    readonly apiToken: string,
    readonly resourceId: string,
  ) {}

  /** Queues replies for the next requests. */
  enqueue(...replies: FakeReply[]): this {
    this.replies.push(...replies);
    return this;
  }

  /** Every key received in requests answered with 2xx, in order. */
  purgedKeys(): string[] {
    return this.received.filter((r) => r.status !== undefined && r.status < 300).flatMap((r) => r.keys);
  }

  async listen(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.endpoint = this.kind === "fastly" ? `http://127.0.0.1:${port}` : `http://127.0.0.1:${port}/client/v4`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on("close", () => (this.inFlight -= 1));
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const received: ReceivedPurge = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, keys: [], receivedAt: Date.now() };
    const index = this.received.push(received) - 1;

    const problem = this.kind === "fastly" ? this.checkFastly(received, text) : this.checkCloudflare(received, text);
    if (problem === "auth") {
      return this.answer(res, received, this.authFailure());
    }
    if (problem) {
      this.problems.push(`${received.method} ${received.path}: ${problem}`);
      return this.answer(res, received, { status: 400, body: this.errorBody(400, problem) });
    }
    const reply = this.replies.shift() ?? this.respond?.(received, index) ?? {};
    if (reply.hang) return; // the client's timeout has to end it
    if (reply.delayMs ?? this.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs ?? this.delayMs));
    const status = reply.status ?? 200;
    this.answer(res, received, {
      ...reply,
      status,
      body: reply.body ?? (status < 300 ? this.successBody(received.keys) : this.errorBody(status, "scripted failure")),
    });
  }

  private answer(res: ServerResponse, received: ReceivedPurge, reply: FakeReply): void {
    received.status = reply.status;
    const body = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body ?? {});
    res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers });
    res.end(body);
  }

  private checkFastly(received: ReceivedPurge, text: string): string | "auth" | undefined {
    if (received.method !== "POST") return `method must be POST, got ${received.method}`;
    if (received.path !== `/service/${this.resourceId}/purge`) return `path must be /service/${this.resourceId}/purge`;
    if (received.headers["fastly-key"] !== this.apiToken) return "auth";
    const body = parseJson(text);
    if (!/^application\/json/.test(String(received.headers["content-type"]))) return "content-type must be application/json";
    if (!isObject(body) || !Array.isArray(body.surrogate_keys)) return 'body must be {"surrogate_keys": [...]}';
    if (Object.keys(body).length !== 1) return "body must hold surrogate_keys only";
    return this.checkKeys((received.keys = body.surrogate_keys as string[]), 256, /^[\x21-\x7e]+$/, false);
  }

  private checkCloudflare(received: ReceivedPurge, text: string): string | "auth" | undefined {
    if (received.method !== "POST") return `method must be POST, got ${received.method}`;
    if (received.path !== `/client/v4/zones/${this.resourceId}/purge_cache`) return `path must be /client/v4/zones/${this.resourceId}/purge_cache`;
    if (received.headers.authorization !== `Bearer ${this.apiToken}`) return "auth";
    const body = parseJson(text);
    if (!/^application\/json/.test(String(received.headers["content-type"]))) return "content-type must be application/json";
    if (!isObject(body) || !Array.isArray(body.tags)) return 'body must be {"tags": [...]}';
    if (Object.keys(body).length !== 1) return "body must hold tags only";
    return this.checkKeys((received.keys = body.tags as string[]), 100, /^[\x21-\x2b\x2d-\x7e]+$/, true);
  }

  private checkKeys(keys: unknown[], max: number, syntax: RegExp, caseInsensitive: boolean): string | undefined {
    if (keys.length === 0) return "no keys";
    if (keys.length > max) return `${keys.length} keys in one request, over the limit of ${max}`;
    const seen = new Set<string>();
    for (const key of keys) {
      if (typeof key !== "string" || !syntax.test(key)) return `invalid key ${JSON.stringify(key)}`;
      if (Buffer.byteLength(key) > 1024) return `key over 1024 bytes: ${key.slice(0, 40)}…`;
      const id = caseInsensitive ? key.toLowerCase() : key;
      if (seen.has(id)) return `key ${JSON.stringify(key)} sent twice in one request`;
      seen.add(id);
    }
    return undefined;
  }

  private authFailure(): FakeReply {
    return this.kind === "fastly"
      ? { status: 401, body: { msg: "Provided credentials are missing or invalid" } }
      : { status: 403, body: { success: false, errors: [{ code: 10000, message: "Authentication error" }], messages: [], result: null } };
  }

  private successBody(keys: string[]): unknown {
    return this.kind === "fastly"
      ? Object.fromEntries(keys.map((k, i) => [k, `purge-${i}`]))
      : { success: true, errors: [], messages: [], result: { id: "9a7806061c88ada191ed06f989cc3dac" } };
  }

  private errorBody(status: number, message: string): unknown {
    return this.kind === "fastly" ? { msg: message, status } : { success: false, errors: [{ code: status, message }], messages: [], result: null };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * A fake Fastly API on 127.0.0.1; pass `api.endpoint` as the backend's `endpoint`.
 *
 * @example
 * const api = await startFakeFastly({ apiToken: "token", serviceId: "svc" });
 */
export function startFakeFastly(options: { apiToken: string; serviceId: string }): Promise<FakeCdnApi> {
  return new FakeCdnApi("fastly", options.apiToken, options.serviceId).listen();
}

/**
 * A fake Cloudflare API on 127.0.0.1 under `/client/v4`; pass `api.endpoint` as the backend's `endpoint`.
 *
 * @example
 * const api = await startFakeCloudflare({ apiToken: "token", zoneId: "zone" });
 */
export function startFakeCloudflare(options: { apiToken: string; zoneId: string }): Promise<FakeCdnApi> {
  return new FakeCdnApi("cloudflare", options.apiToken, options.zoneId).listen();
}
