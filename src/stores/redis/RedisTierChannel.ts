import { decodeTierEvent, encodeTierEvent, type LeaseRenewal, type TierChannel, type TierEvent } from "../TierChannel";
import { ensureRedisConnected, RedisScript, type RedisIndexClient } from "./redisClient";

/**
 * Lua helpers. `before(a, b)`: stream id `a` sorts before `b` ("ms-seq"). `now()`: the server's
 * clock, ms. `parse(v)`: a lease record "token expiry watermark". `pending(...)`: the live
 * instances (other than `self`) whose watermark is below `id`, dropping expired leases; with what
 * the hash says about its own life (when it was created, the longest lease recorded).
 *
 * Leases live in one hash with no expiry, each with its expiry (server clock) in its record, so
 * that no eviction policy can drop one lease while its instance still serves local hits: the hash
 * goes as a whole or not at all, and `_c` (when it was created) tells a hash recreated after Redis
 * lost its data.
 */
const LUA = `
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am then return true end
  if not bm then return false end
  am = tonumber(am); bm = tonumber(bm)
  if am ~= bm then return am < bm end
  return tonumber(as) < tonumber(bs)
end
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function parse(v)
  if not v then return nil end
  local tok, exp, wm = string.match(v, '^(%S+) (%d+) (%S+)$')
  if not tok then return nil end
  return tok, tonumber(exp), wm
end
local function pending(h, id, self, t)
  local all = redis.call('HGETALL', h)
  local out = {}
  local created, lease = '', '0'
  for i = 1, #all, 2 do
    local who, v = all[i], all[i + 1]
    if who == '_c' then created = v
    elseif who == '_l' then lease = v
    else
      local tok, exp, wm = parse(v)
      if (not tok) or exp < t then
        redis.call('HDEL', h, who)
      elseif who ~= self and before(wm, id) then
        table.insert(out, who)
      end
    end
  end
  table.insert(out, 1, string.format('%.0f', t))
  table.insert(out, 1, lease)
  table.insert(out, 1, created)
  return out
end
`;

/**
 * KEYS: leases hash, log. ARGV: token, expected token ('' for none), lease ms, instance, applied id.
 * Renews the lease; `continuous` is 1 only when the lease still held `expected` unexpired. After a
 * gap the instance starts over from the newest log entry (it drops its tier), so that is its
 * watermark; otherwise its watermark moves up to `applied`. Returns `{continuous, newest id,
 * when the hash was created}`.
 */
const RENEW_SCRIPT = new RedisScript(`${LUA}
local t = now()
local got = redis.call('HMGET', KEYS[1], '_c', '_l', ARGV[4])
local created = got[1]
if not created then
  created = string.format('%.0f', t)
  redis.call('HSET', KEYS[1], '_c', created)
end
local lease = tonumber(ARGV[3])
if lease > tonumber(got[2] or '0') then redis.call('HSET', KEYS[1], '_l', ARGV[3]) end
local tok, exp, wm = parse(got[3])
local continuous = 0
if tok and ARGV[2] ~= '' and tok == ARGV[2] and exp >= t then continuous = 1 end
local last = '0-0'
if redis.call('EXISTS', KEYS[2]) == 1 then
  local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if top[1] then last = top[1][1] end
end
local mark = last
if continuous == 1 then
  mark = ARGV[5]
  if before(mark, wm) then mark = wm end
end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[1] .. ' ' .. string.format('%.0f', t + lease) .. ' ' .. mark)
return {continuous, last, created}
`);

/**
 * KEYS: log, leases hash. ARGV: retention ms, self, tags field, parts field. Appends the
 * invalidation (trimming entries older than the retention; the log itself expires when idle), then
 * answers who has yet to apply it. Returns `{id, created, longest lease, server now, pending...}`.
 */
const APPEND_SCRIPT = new RedisScript(`${LUA}
local t = now()
local keep = tonumber(ARGV[1])
local id = redis.call('XADD', KEYS[1], 'MINID', '~', string.format('%.0f', t - keep), '*', 't', ARGV[3], 'k', ARGV[4])
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', keep * 2))
local out = pending(KEYS[2], id, ARGV[2], t)
table.insert(out, 1, id)
return out
`);

/** KEYS: leases hash. ARGV: id, self. Returns `{created, longest lease, server now, pending...}`. */
const PENDING_SCRIPT = new RedisScript(`${LUA}
return pending(KEYS[1], ARGV[1], ARGV[2], now())
`);

/** KEYS: leases hash. ARGV: instance. Ends the lease; returns the ms it had left. */
const REVOKE_SCRIPT = new RedisScript(`${LUA}
local tok, exp = parse(redis.call('HGET', KEYS[1], ARGV[1]))
redis.call('HDEL', KEYS[1], ARGV[1])
if not tok then return 0 end
local left = exp - now()
if left < 0 then left = 0 end
return left
`);

/** KEYS: leases hash. ARGV: instance, applied id. Moves a live lease's watermark up. */
const ACK_SCRIPT = new RedisScript(`${LUA}
local tok, exp, wm = parse(redis.call('HGET', KEYS[1], ARGV[1]))
if (not tok) or exp < now() then return 0 end
if before(wm, ARGV[2]) then redis.call('HSET', KEYS[1], ARGV[1], tok .. ' ' .. string.format('%.0f', exp) .. ' ' .. ARGV[2]) end
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
 * The two tiers' shared part on Redis and Redis Cluster (see {@link TierChannel}): the leases (each
 * instance's token, expiry by the server's clock and watermark) in one hash, the log as a Redis
 * Stream. Both keys carry the hash tag `{<namespace>}`, so on a cluster they sit on one slot and
 * each script runs there.
 * The blocking read uses a duplicate of the client @keyv/redis holds (same library, its own
 * connection, so it never holds up the cache's commands).
 *
 * @example
 * const channel = new RedisTierChannel(client, "ccp");
 * const { id, pending } = await channel.append({ tags: [["products", 17]], parts: [] }, "instance-1");
 */
export class RedisTierChannel implements TierChannel {
  private readonly log: string;
  private readonly leases: string;
  /** When the leases hash was created, as last seen here ('' before it was seen). */
  private seenCreated = "";
  /** The longest lease seen recorded in it, ms. */
  private seenLease = 0;
  /** When (server clock) the leases hash was first seen gone. */
  private lossNoticedAt?: number;
  private reader?: RedisStreamClient;
  private readonly lostListeners: Array<() => void> = [];
  private watching = false;
  private readerReady?: Promise<RedisStreamClient>;

  constructor(
    private readonly client: RedisIndexClient,
    namespace: string,
    /** How long the log keeps an invalidation (ms); far longer than any lease. */
    private readonly retentionMs = 60_000,
  ) {
    const base = `${namespace}:tier:{${namespace}}`;
    this.log = `${base}:log`;
    this.leases = `${base}:leases`;
  }

  async renewLease(instance: string, token: string, expected: string | undefined, leaseMs: number, applied: string): Promise<LeaseRenewal> {
    await ensureRedisConnected(this.client);
    const reply = (await RENEW_SCRIPT.run(
      this.client,
      [this.leases, this.log],
      [token, expected ?? "", String(Math.max(1, Math.ceil(leaseMs))), instance, applied],
    )) as [number | string, string, string];
    // What an invalidation from this process compares with later to notice the store lost the leases.
    if (this.seenCreated === "") this.seenCreated = String(reply[2]);
    this.seenLease = Math.max(this.seenLease, leaseMs);
    return { continuous: Number(reply[0]) === 1, lastId: String(reply[1]) };
  }

  async dropLease(instance: string): Promise<void> {
    await ensureRedisConnected(this.client);
    await REVOKE_SCRIPT.run(this.client, [this.leases], [instance]);
  }

  async append(event: TierEvent, self: string): Promise<{ id: string; pending: string[]; waitMs: number }> {
    await ensureRedisConnected(this.client);
    const fields = encodeTierEvent(event);
    const reply = (await APPEND_SCRIPT.run(this.client, [this.log, this.leases], [String(this.retentionMs), self, fields.t, fields.k])) as string[];
    return { id: String(reply[0]), ...this.waitOf(reply.slice(1).map(String)) };
  }

  async pending(id: string, self: string): Promise<{ pending: string[]; waitMs: number }> {
    await ensureRedisConnected(this.client);
    const reply = (await PENDING_SCRIPT.run(this.client, [this.leases], [id, self])) as string[];
    return this.waitOf(reply.map(String));
  }

  async revoke(instance: string): Promise<number> {
    await ensureRedisConnected(this.client);
    const left = Number(await REVOKE_SCRIPT.run(this.client, [this.leases], [instance]));
    return Number.isFinite(left) && left > 0 ? left : 0;
  }

  async acknowledge(instance: string, id: string): Promise<void> {
    await ensureRedisConnected(this.client);
    await ACK_SCRIPT.run(this.client, [this.leases], [instance, id]);
  }

  /**
   * Reads `[created, longest lease, server now, pending...]`. When the leases hash seen here before
   * is gone or was created anew, Redis lost it (a restart without persistence, an eviction, a
   * flush) while instances may still be serving local hits under leases it no longer records: the
   * invalidation then also waits until the longest lease seen could have run since the loss.
   */
  private waitOf(reply: string[]): { pending: string[]; waitMs: number } {
    const [created, lease, serverNow, ...pending] = reply;
    const now = Number(serverNow);
    this.seenLease = Math.max(this.seenLease, Number(lease) || 0);
    let waitMs = 0;
    if (this.seenCreated !== "" && created !== this.seenCreated) {
      // Lost before it was created anew, or before this call noticed it gone.
      const since = created !== "" ? Number(created) : (this.lossNoticedAt ??= now);
      waitMs = Math.max(0, since + this.seenLease - now);
      if (waitMs === 0) {
        this.seenCreated = created;
        this.lossNoticedAt = undefined;
      }
    } else if (created !== "") {
      this.seenCreated = created;
    }
    return { pending, waitMs };
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

  onConnectionLost(listener: () => void): void {
    this.lostListeners.push(listener);
    if (this.watching) return;
    this.watching = true;
    // node-redis emits "reconnecting" after an unexpected close (a restart, a reset) and "end" when it gives up.
    const client = this.client as unknown as { on?(event: string, listener: () => void): unknown };
    for (const event of ["reconnecting", "end"]) client.on?.(event, () => this.connectionLost());
  }

  private connectionLost(): void {
    for (const listener of this.lostListeners) listener();
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
      (reader as { on?(event: string, listener: () => void): unknown }).on?.("reconnecting", () => this.connectionLost());
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
