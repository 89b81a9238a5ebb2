import { defineRedisScript } from './redis-connection.ts';

/*
 * Lua scripts of the Redis store. Each write runs as one script, so bumping the revision, changing the state and
 * appending the stream entry happen atomically and revisions are strictly ordered across nodes.
 *
 * Keys of every write script: 1 instances (hash field -> instance JSON), 2 leases (sorted set, score = expiresAt),
 * 3 revision (counter), 4 changes (stream, entry id = "<revision>-0"), 5 epoch (random id of this data set).
 * ARGV 1..3 of every write script: epoch candidate, trim mode ("~" or "="), stream max length.
 */
const append = `
local function append(kind, reason, json, expiresAt)
  local rev = redis.call('INCR', KEYS[3])
  redis.call('SET', KEYS[5], ARGV[1], 'NX')
  redis.call('XADD', KEYS[4], 'MAXLEN', ARGV[2], ARGV[3], rev .. '-0',
    'revision', rev, 'kind', kind, 'reason', reason, 'instance', json, 'expiresAt', expiresAt)
  return rev
end
`;

/** ARGV 4 field, 5 instance JSON, 6 expiresAt, 7 reason, 8 "1" to keep a later lease end. Returns {rev, expiresAt}. */
export const upsertScript = defineRedisScript(`${append}
local expiresAt = ARGV[6]
if ARGV[8] == '1' then
  local current = redis.call('ZSCORE', KEYS[2], ARGV[4])
  if current and tonumber(current) > tonumber(expiresAt) then expiresAt = current end
end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[2], expiresAt, ARGV[4])
local rev = append('upsert', ARGV[7], ARGV[5], expiresAt)
return {rev, expiresAt}
`);

/** ARGV 4 field, 5 reason. Returns {rev, instance JSON, expiresAt}, or nil when the instance is unknown. */
export const removeScript = defineRedisScript(`${append}
local json = redis.call('HGET', KEYS[1], ARGV[4])
if not json then return false end
local expiresAt = redis.call('ZSCORE', KEYS[2], ARGV[4]) or '0'
redis.call('HDEL', KEYS[1], ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[4])
local rev = append('delete', ARGV[5], json, expiresAt)
return {rev, json, expiresAt}
`);

/** ARGV 4 now, 5 batch size. Returns a flat list of {rev, instance JSON, expiresAt} triples. */
export const expireScript = defineRedisScript(`${append}
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4], 'WITHSCORES', 'LIMIT', 0, ARGV[5])
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

/** Keys 1 instances, 2 leases; ARGV 1 field, 2 expiresAt. Moves the lease only of a known instance. */
export const renewScript = defineRedisScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
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

/** Keys 1 revision, 2 epoch; ARGV 1 epoch candidate. Returns {epoch, revision}. */
export const statusScript = defineRedisScript(`
redis.call('SET', KEYS[2], ARGV[1], 'NX')
return {redis.call('GET', KEYS[2]), redis.call('GET', KEYS[1]) or '0'}
`);
