import { RedisScript } from "./redisClient";

/**
 * Tag versions, atomically, on the node holding the version key (one key per script, so it runs
 * on a cluster too). The value keeps Keyv's format, `{"value":N,"expires":ms}`, plus
 * `"versioned":1` once any process recorded the tag as `versioned()`; Keyv reads it unchanged.
 *
 * KEYS[1] version key; ARGV[1] lifetime (ms); ARGV[2] caller's now (ms); ARGV[3] "bump" or
 * "ensure"; ARGV[4] "1" to record the tag as versioned.
 *
 * "bump": value := max(current + 1, server clock in µs). "ensure": the live value, else one
 * created as "bump" does. Either way a missing, expired or unreadable key restarts from the
 * server's clock, so a version never repeats; the expiry only grows, the mark is never dropped.
 * Returns `[version, versioned (0|1), expiry (ms), previous live version (0: none)]`.
 *
 * @example
 * await VERSION_SCRIPT.run(client, ["ccp:versions::=products"], ["360000", String(Date.now()), "ensure", "0"]);
 */
export const VERSION_SCRIPT = new RedisScript(`
local now = tonumber(ARGV[2])
local cur = 0
local live = false
local old = 0
local mark = ARGV[4] == '1'
local was = false
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'string' then
  local ok, data = pcall(cjson.decode, redis.call('GET', KEYS[1]))
  if ok and type(data) == 'table' and type(data.value) == 'number' then
    cur = data.value
    if type(data.expires) ~= 'number' or data.expires >= now then
      live = true
      if data.versioned == 1 then was = true end
      if type(data.expires) == 'number' then old = data.expires end
    end
  end
elseif kind ~= 'none' then
  redis.call('DEL', KEYS[1])
end
if was then mark = true end
local exp = math.max(now + tonumber(ARGV[1]), old)
local v = cur
if ARGV[3] == 'ensure' and live then
  if exp == old and mark == was then return {string.format('%.0f', v), mark and 1 or 0, string.format('%.0f', exp), string.format('%.0f', v)} end
else
  local t = redis.call('TIME')
  v = math.max(cur + 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))
end
local flag = ''
if mark then flag = ',"versioned":1' end
redis.call('SET', KEYS[1], '{"value":' .. string.format('%.0f', v) .. flag .. ',"expires":' .. string.format('%.0f', exp) .. '}', 'PX', string.format('%.0f', math.max(1, exp - now)))
local prev = 0
if live then prev = cur end
return {string.format('%.0f', v), mark and 1 or 0, string.format('%.0f', exp), string.format('%.0f', prev)}
`);

/**
 * Records members in a tag's sorted set, each scored with the time (ms, server clock) until which
 * it must be remembered; a score only grows (ZADD GT), the key's TTL only grows (EXPIRE NX, then
 * GT), and up to ARGV[3] members that are past their time are trimmed, so a set never grows
 * without bound however long its tag lives.
 *
 * KEYS[1] the set; ARGV[1] member lifetime (ms); ARGV[2] key lifetime (s); ARGV[3] trim limit;
 * ARGV[4..] members. Returns the number trimmed.
 *
 * @example
 * await INDEX_ADD_SCRIPT.run(client, ["ccp:index::=products"], ["360000", "360", "100", "=:/products?page=1"]);
 */
export const INDEX_ADD_SCRIPT = new RedisScript(`
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'zset' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = string.format('%.0f', now + tonumber(ARGV[1]))
for i = 4, #ARGV do
  redis.call('ZADD', KEYS[1], 'GT', score, ARGV[i])
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now), 'LIMIT', 0, tonumber(ARGV[3]))
if #expired > 0 then redis.call('ZREM', KEYS[1], unpack(expired)) end
redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
redis.call('EXPIRE', KEYS[1], ARGV[2], 'GT')
return #expired
`);
