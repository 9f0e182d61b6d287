import { decodeTierEvent, encodeTierEvent, type LeaseRenewal, type TierChannel, type TierEvent } from "../TierChannel";
import { ensureRedisConnected, RedisScript, type RedisIndexClient } from "./redisClient";

/** Lua: `before(a, b)` is true when stream id `a` sorts before `b` ("ms-seq"). */
const BEFORE = `
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am then return true end
  if not bm then return false end
  am = tonumber(am); bm = tonumber(bm)
  if am ~= bm then return am < bm end
  return tonumber(as) < tonumber(bs)
end
`;

/**
 * Lua: the instances (other than ARGV self) whose lease is live and whose watermark is below
 * `id`; the records of expired leases are dropped. Lease keys are built from ARGV lease prefix:
 * they share the hash tag of the watermark hash, so the script stays on one cluster slot.
 */
const PENDING = `
local function pending(wm, id, self, prefix)
  local all = redis.call('HGETALL', wm)
  local out = {}
  for i = 1, #all, 2 do
    local who, at = all[i], all[i + 1]
    if who ~= self then
      if redis.call('EXISTS', prefix .. who) == 0 then
        redis.call('HDEL', wm, who)
      elseif before(at, id) then
        table.insert(out, who)
      end
    end
  end
  return out
end
`;

/**
 * KEYS: lease, watermarks, log. ARGV: token, expected token ('' for none), lease ms, instance,
 * applied id. Renews the lease; `continuous` is 1 only when the lease still held `expected`. After
 * a gap the instance starts over from the newest log entry (it drops its tier), so that is its
 * watermark; otherwise its watermark moves up to `applied`. Returns `{continuous, newest id}`.
 */
const RENEW_SCRIPT = new RedisScript(`${BEFORE}
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
local continuous = 0
if old and ARGV[2] ~= '' and old == ARGV[2] then continuous = 1 end
local last = '0-0'
if redis.call('EXISTS', KEYS[3]) == 1 then
  local top = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
  if top[1] then last = top[1][1] end
end
local mark = ARGV[5]
if continuous == 0 then mark = last end
local cur = redis.call('HGET', KEYS[2], ARGV[4])
if (not cur) or before(cur, mark) then redis.call('HSET', KEYS[2], ARGV[4], mark) end
return {continuous, last}
`);

/**
 * KEYS: log, watermarks. ARGV: retention ms, self, lease prefix, tags field, parts field.
 * Appends the invalidation (trimming entries older than the retention; the log itself expires
 * when idle), then answers who has yet to apply it. Returns `{id, pending...}`.
 */
const APPEND_SCRIPT = new RedisScript(`${BEFORE}${PENDING}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local keep = tonumber(ARGV[1])
local id = redis.call('XADD', KEYS[1], 'MINID', '~', string.format('%.0f', now - keep), '*', 't', ARGV[4], 'k', ARGV[5])
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', keep * 2))
local out = pending(KEYS[2], id, ARGV[2], ARGV[3])
table.insert(out, 1, id)
return out
`);

/** KEYS: watermarks. ARGV: id, self, lease prefix. */
const PENDING_SCRIPT = new RedisScript(`${BEFORE}${PENDING}
return pending(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
`);

/** KEYS: lease, watermarks. ARGV: instance. Ends the lease; returns the ms it had left. */
const REVOKE_SCRIPT = new RedisScript(`
local left = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if left < 0 then left = 0 end
return left
`);

/** KEYS: lease, watermarks. ARGV: instance, applied id. Moves a live lease's watermark up. */
const ACK_SCRIPT = new RedisScript(`${BEFORE}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if (not cur) or before(cur, ARGV[2]) then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
return 1
`);

/** The node-redis commands of a blocking reader (a connection of its own). */
interface RedisStreamClient {
  xRead(streams: { key: string; id: string }, options: { BLOCK: number; COUNT: number }): Promise<unknown>;
  connect(): Promise<unknown>;
  isOpen?: boolean;
  destroy?(): unknown;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  on?(event: "error", listener: (error: unknown) => void): unknown;
}

/** Invalidations read from the log at once, at most. */
const READ_COUNT = 500;

/**
 * The two tiers' shared part on Redis and Redis Cluster (see {@link TierChannel}): one lease key
 * per instance (`SET … PX`), the log as a Redis Stream, watermarks in a hash. Every key carries
 * the hash tag `{<namespace>}`, so on a cluster they sit on one slot and each script runs there.
 * The blocking read uses a duplicate of the client @keyv/redis holds (same library, its own
 * connection, so it never holds up the cache's commands).
 *
 * @example
 * const channel = new RedisTierChannel(client, "ccp");
 * const { id, pending } = await channel.append({ tags: [["products", 17]], parts: [] }, "instance-1");
 */
export class RedisTierChannel implements TierChannel {
  private readonly log: string;
  private readonly watermarks: string;
  private readonly leasePrefix: string;
  private reader?: RedisStreamClient;
  private readerReady?: Promise<RedisStreamClient>;

  constructor(
    private readonly client: RedisIndexClient,
    namespace: string,
    /** How long the log keeps an invalidation (ms); far longer than any lease. */
    private readonly retentionMs = 60_000,
  ) {
    const base = `${namespace}:tier:{${namespace}}`;
    this.log = `${base}:log`;
    this.watermarks = `${base}:wm`;
    this.leasePrefix = `${base}:lease:`;
  }

  async renewLease(instance: string, token: string, expected: string | undefined, leaseMs: number, applied: string): Promise<LeaseRenewal> {
    await ensureRedisConnected(this.client);
    const reply = (await RENEW_SCRIPT.run(
      this.client,
      [this.leasePrefix + instance, this.watermarks, this.log],
      [token, expected ?? "", String(Math.max(1, Math.ceil(leaseMs))), instance, applied],
    )) as [number | string, string];
    return { continuous: Number(reply[0]) === 1, lastId: String(reply[1]) };
  }

  async dropLease(instance: string): Promise<void> {
    await ensureRedisConnected(this.client);
    await REVOKE_SCRIPT.run(this.client, [this.leasePrefix + instance, this.watermarks], [instance]);
  }

  async append(event: TierEvent, self: string): Promise<{ id: string; pending: string[] }> {
    await ensureRedisConnected(this.client);
    const fields = encodeTierEvent(event);
    const reply = (await APPEND_SCRIPT.run(
      this.client,
      [this.log, this.watermarks],
      [String(this.retentionMs), self, this.leasePrefix, fields.t, fields.k],
    )) as string[];
    return { id: String(reply[0]), pending: reply.slice(1).map(String) };
  }

  async pending(id: string, self: string): Promise<string[]> {
    await ensureRedisConnected(this.client);
    const reply = (await PENDING_SCRIPT.run(this.client, [this.watermarks], [id, self, this.leasePrefix])) as string[];
    return reply.map(String);
  }

  async revoke(instance: string): Promise<number> {
    await ensureRedisConnected(this.client);
    const left = Number(await REVOKE_SCRIPT.run(this.client, [this.leasePrefix + instance, this.watermarks], [instance]));
    return Number.isFinite(left) && left > 0 ? left : 0;
  }

  async acknowledge(instance: string, id: string): Promise<void> {
    await ensureRedisConnected(this.client);
    await ACK_SCRIPT.run(this.client, [this.leasePrefix + instance, this.watermarks], [instance, id]);
  }

  async read(after: string, blockMs: number): Promise<Array<{ id: string; event: TierEvent }>> {
    const reader = await this.openReader();
    const reply = await reader.xRead({ key: this.log, id: after }, { BLOCK: Math.max(1, Math.round(blockMs)), COUNT: READ_COUNT });
    return streamMessages(reply).map(({ id, message }) => ({ id, event: decodeTierEvent(message) }));
  }

  async close(): Promise<void> {
    const pending = this.readerReady;
    this.readerReady = undefined;
    const reader = this.reader ?? (await pending?.catch(() => undefined));
    this.reader = undefined;
    if (!reader) return;
    // A blocked XREAD would hold a graceful close until its BLOCK ends: cut the connection.
    if (typeof reader.destroy === "function") reader.destroy();
    else await (reader.close?.() ?? reader.quit?.())?.catch(() => undefined);
  }

  /** Drops the reading connection (stuck behind a partition); the next read opens a new one. */
  resetReader(): void {
    void this.close();
  }

  private openReader(): Promise<RedisStreamClient> {
    if (this.reader?.isOpen !== false && this.reader) return Promise.resolve(this.reader);
    this.readerReady ??= (async () => {
      const duplicate = (this.client as unknown as { duplicate?: () => RedisStreamClient }).duplicate;
      if (typeof duplicate !== "function") throw new TypeError("the Redis client cannot open a second connection (duplicate) for the invalidation log");
      const reader = duplicate.call(this.client);
      reader.on?.("error", () => undefined);
      await reader.connect();
      this.reader = reader;
      return reader;
    })().finally(() => (this.readerReady = undefined));
    return this.readerReady;
  }
}

/** The messages of an XREAD reply, whichever shape node-redis gives it (RESP2 array or RESP3 map). */
function streamMessages(reply: unknown): Array<{ id: string; message: Record<string, string> }> {
  if (!reply) return [];
  const streams = Array.isArray(reply) ? reply : Object.entries(reply as Record<string, unknown>).map(([name, messages]) => ({ name, messages }));
  const out: Array<{ id: string; message: Record<string, string> }> = [];
  for (const stream of streams as Array<{ messages?: unknown }>) {
    for (const m of (stream?.messages ?? []) as Array<{ id?: unknown; message?: unknown }>) {
      if (typeof m?.id !== "string") continue;
      out.push({ id: m.id, message: (m.message ?? {}) as Record<string, string> });
    }
  }
  return out;
}
