import { defineRedisScript } from './redis-connection.ts';

/*
 * Lua scripts of the Redis store. Each write runs as one script, so bumping the revision, changing the state and
 * appending the stream entry happen atomically and revisions are strictly ordered across nodes.
 *
 * Keys of every write script: 1 instances (hash field -> instance JSON), 2 leases (sorted set, score = expiresAt),
 * 3 revision (counter), 4 changes (stream, entry id = "<revision>-0"), 5 epoch (random id of this data set).
 * ARGV 1..4 of every write script: epoch candidate, trim mode ("~" or "="), stream max length, deadline.
 *
 * The deadline (epoch ms on Redis's clock) is when the caller stops waiting for the reply. A command sent to a
 * Redis that hangs (stopped, swapping) waits in its socket and runs whenever Redis resumes; the caller has long
 * answered 503 by then. A write script that starts after its deadline, by Redis's own clock (TIME), changes
 * nothing and answers a DEADLINE error, so a write answered 503 cannot take effect later.
 */
const pastDeadline = `
local function past_deadline(deadline)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(deadline)
end
local late = 'DEADLINE the write reached Redis after its deadline'
`;
const append = `${pastDeadline}
local function append(kind, reason, json, expiresAt)
  local rev = redis.call('INCR', KEYS[3])
  redis.call('SET', KEYS[5], ARGV[1], 'NX')
  redis.call('XADD', KEYS[4], 'MAXLEN', ARGV[2], ARGV[3], rev .. '-0',
    'revision', rev, 'kind', kind, 'reason', reason, 'instance', json, 'expiresAt', expiresAt)
  return rev
end
`;

/** ARGV 5 field, 6 instance JSON, 7 expiresAt, 8 reason, 9 "1" to keep a later lease end. Returns {rev, expiresAt}. */
export const upsertScript = defineRedisScript(`${append}
if past_deadline(ARGV[4]) then return redis.error_reply(late) end
local expiresAt = ARGV[7]
if ARGV[9] == '1' then
  local current = redis.call('ZSCORE', KEYS[2], ARGV[5])
  if current and tonumber(current) > tonumber(expiresAt) then expiresAt = current end
end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[6])
redis.call('ZADD', KEYS[2], expiresAt, ARGV[5])
local rev = append('upsert', ARGV[8], ARGV[6], expiresAt)
return {rev, expiresAt}
`);

/** ARGV 5 field, 6 reason. Returns {rev, instance JSON, expiresAt}, or nil when the instance is unknown. */
export const removeScript = defineRedisScript(`${append}
if past_deadline(ARGV[4]) then return redis.error_reply(late) end
local json = redis.call('HGET', KEYS[1], ARGV[5])
if not json then return false end
local expiresAt = redis.call('ZSCORE', KEYS[2], ARGV[5]) or '0'
redis.call('HDEL', KEYS[1], ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[5])
local rev = append('delete', ARGV[6], json, expiresAt)
return {rev, json, expiresAt}
`);

/**
 * Key 6 sweptAt (when the last sweep ran, by Redis's clock). ARGV 5 now, 6 batch size, 7 grace ms, 8 "1" when the
 * caller saw the store fail since its last sweep, 9 idle ms (a longer pause between sweeps is an outage; 0: off).
 * After an outage every lease first lasts at least now + max(ttl, grace), so instances whose heartbeats failed
 * while the store was away get a fair chance to renew. Returns a flat list of {rev, instance JSON, expiresAt}.
 */
export const expireScript = defineRedisScript(`${append}
if past_deadline(ARGV[4]) then return redis.error_reply(late) end
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local swept = tonumber(redis.call('GET', KEYS[6]) or '')
redis.call('SET', KEYS[6], clock)
local idle = tonumber(ARGV[9])
if ARGV[8] == '1' or (idle > 0 and swept and clock - swept > idle) then
  local now = tonumber(ARGV[5])
  local grace = tonumber(ARGV[7])
  local leases = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #leases, 2 do
    local json = redis.call('HGET', KEYS[1], leases[i])
    if json then
      local floor = now + math.max(tonumber(cjson.decode(json).ttlMs) or 0, grace)
      if tonumber(leases[i + 1]) < floor then redis.call('ZADD', KEYS[2], floor, leases[i]) end
    end
  end
end
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5], 'WITHSCORES', 'LIMIT', 0, ARGV[6])
local out = {}
for i = 1, #due, 2 do
  local field = due[i]
  redis.call('ZREM', KEYS[2], field)
  local json = redis.call('HGET', KEYS[1], field)
  if json then
    redis.call('HDEL', KEYS[1], field)
    local rev = append('delete', 'expire', json, due[i + 1])
    out[#out + 1] = rev
    out[#out + 1] = json
    out[#out + 1] = due[i + 1]
  end
end
return out
`);

/** Keys 1 instances, 2 leases; ARGV 1 field, 2 expiresAt, 3 deadline. Moves the lease only of a known instance. */
export const renewScript = defineRedisScript(`${pastDeadline}
if past_deadline(ARGV[3]) then return redis.error_reply(late) end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[1])
return 1
`);

/**
 * Keys 1 instances, 2 leases, 3 revision, 4 epoch; ARGV 1 epoch candidate.
 * Returns {epoch, revision, hgetall, zrange withscores}, read atomically.
 */
export const snapshotScript = defineRedisScript(`
redis.call('SET', KEYS[4], ARGV[1], 'NX')
return {redis.call('GET', KEYS[4]), redis.call('GET', KEYS[3]) or '0',
  redis.call('HGETALL', KEYS[1]), redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')}
`);

/** Keys 1 revision, 2 epoch; ARGV 1 epoch candidate. Returns {epoch, revision, TIME seconds, TIME microseconds}. */
export const statusScript = defineRedisScript(`
redis.call('SET', KEYS[2], ARGV[1], 'NX')
local t = redis.call('TIME')
return {redis.call('GET', KEYS[2]), redis.call('GET', KEYS[1]) or '0', t[1], t[2]}
`);
