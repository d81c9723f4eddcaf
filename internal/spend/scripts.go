package spend

import "github.com/redis/go-redis/v9"

// takeScript checks one message against every bound and counts it only if
// all allow it. Every key carries the endpoint's hash tag (internal/keys),
// so the script runs on Redis Cluster (README "Cluster safety").
//
// KEYS[1] the endpoint's day hash: field "n" = messages counted today, and
// one field per counted msgid (so a retry of the same message is not counted twice)
// KEYS[2] the phone's minute counter, KEYS[3] its hour counter, KEYS[4] its day counter
// ARGV[1] msgid
// ARGV[2] daily budget (0 = none)
// ARGV[3] ARGV[4] ARGV[5] limits per minute, hour, day (0 = none; that key is untouched)
// ARGV[6] ARGV[7] ARGV[8] TTL in ms of KEYS[2], KEYS[3], KEYS[4]; ARGV[8] is also KEYS[1]'s
// Returns {status, n, window}: status 0 = counted now, 1 = counted before (a
// retry of the same message: allowed, nothing taken), 2 = phone capped
// (window 1 minute, 2 hour, 3 day), 3 = daily budget spent; n = messages
// counted today.
//
// The budget is checked first: when it is spent nothing leaves today, and a
// phone's verdict can wait for tomorrow, when its minute has passed anyway.
var takeScript = redis.NewScript(`
local n = tonumber(redis.call("HGET", KEYS[1], "n") or "0")
if redis.call("HEXISTS", KEYS[1], ARGV[1]) == 1 then
  return {1, n, 0}
end
local budget = tonumber(ARGV[2])
if budget > 0 and n >= budget then
  return {3, n, 0}
end
for i = 1, 3 do
  local limit = tonumber(ARGV[2 + i])
  if limit > 0 and tonumber(redis.call("GET", KEYS[1 + i]) or "0") >= limit then
    return {2, n, i}
  end
end
for i = 1, 3 do
  if tonumber(ARGV[2 + i]) > 0 then
    redis.call("INCR", KEYS[1 + i])
    redis.call("PEXPIRE", KEYS[1 + i], ARGV[5 + i])
  end
end
redis.call("HSET", KEYS[1], ARGV[1], "1")
n = redis.call("HINCRBY", KEYS[1], "n", 1)
redis.call("PEXPIRE", KEYS[1], ARGV[8])
return {0, n, 0}
`)

// releaseScript gives back what takeScript counted for one message: only if
// its marker is still there (idempotent; an expired day is not touched),
// and a phone counter only if it still exists (DECR on a missing key would
// create one without a TTL).
//
// KEYS as takeScript's; ARGV[1] msgid. Returns 1 if released, 0 if not.
var releaseScript = redis.NewScript(`
if redis.call("HDEL", KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call("HINCRBY", KEYS[1], "n", -1)
for i = 2, 4 do
  if redis.call("EXISTS", KEYS[i]) == 1 then
    redis.call("DECR", KEYS[i])
  end
end
return 1
`)
