package dlq

// The facet index. Every entry of an endpoint belongs to exactly one facet,
// the triple (class, type, code) of its JSON, written "class|type|code"
// with '%' and '|' escaped as %25 and %7C. Per endpoint, next to the index
// zset and the entries hash (dlq.go):
//
//	vq:{ep}:dlq:f:<facet>  sorted set, member = task id, score = dead time (ms)
//	vq:{ep}:dlq:facets     hash, facet -> number of entries in its sorted set
//
// A dead letter's class, type and code come from a handful of values (20
// codes over 4 endpoints make a few dozen facets), so a filter on code,
// class or type is the union of a few facet sets, a count by any of them is
// one HGETALL, and a time range is a ZCOUNT per facet: nothing scans the
// store. The same script that adds or removes an entry maintains both
// (below), so the counts are exactly the facet sets' sizes.
//
// Entries written before the index existed (or by an older worker during a
// rolling upgrade) are in the index zset but in no facet: then the counts
// do not add up to the index's size, and the first filtered read of that
// endpoint rebuilds the facets (Reindex, also `enqueue dlq reindex`).

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
)

// luaFacet is the one definition of an entry's facet, shared by every
// script that indexes or unindexes: facet(json) and unindex(json, id,
// prefix, facetsKey).
const luaFacet = `
local function esc(v)
  if type(v) ~= "string" then return "" end
  return (v:gsub("%%", "%%25"):gsub("|", "%%7C"))
end
local function facet(json)
  local ok, e = pcall(cjson.decode, json)
  if not ok or type(e) ~= "table" then return "||" end
  return esc(e.class) .. "|" .. esc(e.type) .. "|" .. esc(e.code)
end
local function index(json, id, score, prefix, facets)
  local f = facet(json)
  if redis.call("ZADD", prefix .. f, score, id) == 1 then
    redis.call("HINCRBY", facets, f, 1)
  end
end
local function unindex(json, id, prefix, facets)
  local f = facet(json)
  if redis.call("ZREM", prefix .. f, id) == 1 then
    if redis.call("HINCRBY", facets, f, -1) <= 0 then redis.call("HDEL", facets, f) end
  end
end
`

// addScript stores one entry, replacing an entry with the same id (whose
// facet it leaves first).
//
// KEYS[1] index zset; KEYS[2] entries hash; KEYS[3] facets hash
// ARGV[1] task id; ARGV[2] score (ms); ARGV[3] JSON entry; ARGV[4] facet set prefix
var addScript = redis.NewScript(luaFacet + `
local old = redis.call("HGET", KEYS[2], ARGV[1])
if old then unindex(old, ARGV[1], ARGV[4], KEYS[3]) end
redis.call("HSET", KEYS[2], ARGV[1], ARGV[3])
redis.call("ZADD", KEYS[1], ARGV[2], ARGV[1])
index(ARGV[3], ARGV[1], ARGV[2], ARGV[4], KEYS[3])
return 1
`)

// removeScript deletes entries and their facet memberships.
//
// KEYS[1] index zset; KEYS[2] entries hash; KEYS[3] facets hash
// ARGV[1] facet set prefix; ARGV[2..] task ids
// It returns how many of the ids were in the index.
var removeScript = redis.NewScript(luaFacet + `
local n = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local old = redis.call("HGET", KEYS[2], id)
  if old then
    unindex(old, id, ARGV[1], KEYS[3])
    redis.call("HDEL", KEYS[2], id)
  end
  n = n + redis.call("ZREM", KEYS[1], id)
end
return n
`)

// reindexScript puts entries that are in the index but in no facet into
// theirs (idempotent: an indexed entry is left as it is).
//
// KEYS[1] index zset; KEYS[2] entries hash; KEYS[3] facets hash
// ARGV[1] facet set prefix; ARGV[2..] task ids
var reindexScript = redis.NewScript(luaFacet + `
local n = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local json = redis.call("HGET", KEYS[2], id)
  local score = redis.call("ZSCORE", KEYS[1], id)
  if json and score then
    local f = facet(json)
    if redis.call("ZADD", ARGV[1] .. f, score, id) == 1 then
      redis.call("HINCRBY", KEYS[3], f, 1)
      n = n + 1
    end
  end
end
return n
`)

// pruneScript drops the members of one facet set that have no entry any
// more (an older binary purged them) and sets the facet's count to the
// set's size.
//
// KEYS[1] entries hash; KEYS[2] facets hash; KEYS[3] the facet's set
// ARGV[1] the facet; ARGV[2..] task ids of the facet's set
var pruneScript = redis.NewScript(`
local n = 0
for i = 2, #ARGV do
  if redis.call("HEXISTS", KEYS[1], ARGV[i]) == 0 then
    n = n + redis.call("ZREM", KEYS[3], ARGV[i])
  end
end
local size = redis.call("ZCARD", KEYS[3])
if size == 0 then redis.call("HDEL", KEYS[2], ARGV[1]) else redis.call("HSET", KEYS[2], ARGV[1], size) end
return n
`)

// stateScript reads an endpoint's facet counts and its index size at one
// instant, so that a concurrent add never looks like a missing facet.
//
// KEYS[1] index zset; KEYS[2] facets hash
// It returns {index size, facet, count, facet, count, ...}.
var stateScript = redis.NewScript(`
local out = {redis.call("ZCARD", KEYS[1])}
local h = redis.call("HGETALL", KEYS[2])
for i = 1, #h do out[#out + 1] = h[i] end
return out
`)

// Facet is one (class, type, code) of an endpoint and its entry count.
type Facet struct {
	Class, Type, Code string
	Count             int64
	name              string // the field in the facets hash
}

// parseFacet splits a facets-hash field (written by luaFacet).
func parseFacet(name string) (Facet, bool) {
	parts := strings.Split(name, "|")
	if len(parts) != 3 {
		return Facet{}, false
	}
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			return Facet{}, false
		}
		parts[i] = u
	}
	return Facet{Class: parts[0], Type: parts[1], Code: parts[2], name: name}, true
}

func (s *Store) facetKeys(ep string) []string {
	return []string{keys.DLQIndex(ep), keys.DLQEntries(ep), keys.DLQFacets(ep)}
}

// state reads the facets of endpoint and whether they cover its index.
func (s *Store) state(ctx context.Context, ep string) (facets []Facet, complete bool, err error) {
	vals, err := stateScript.Run(ctx, s.rdb, []string{keys.DLQIndex(ep), keys.DLQFacets(ep)}).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("dlq facets %s: %w", ep, err)
	}
	size, _ := vals[0].(int64)
	var sum int64
	for i := 1; i+1 < len(vals); i += 2 {
		name, _ := vals[i].(string)
		n, _ := strconv.ParseInt(fmt.Sprint(vals[i+1]), 10, 64)
		f, ok := parseFacet(name)
		if !ok || n <= 0 {
			continue
		}
		f.Count = n
		sum += n
		facets = append(facets, f)
	}
	return facets, sum == size, nil
}

// facets returns the facets of endpoint, rebuilding them first when they
// do not cover its index (entries older than the index).
func (s *Store) facets(ctx context.Context, ep string) ([]Facet, error) {
	fs, complete, err := s.state(ctx, ep)
	if err != nil || complete {
		return fs, err
	}
	if _, err := s.Reindex(ctx, ep); err != nil {
		return nil, err
	}
	fs, _, err = s.state(ctx, ep)
	return fs, err
}

// reindexBatch is how many ids one reindex or prune script call handles.
const reindexBatch = 1000

// Reindex puts every entry of endpoint that is in no facet into its facet,
// drops facet members whose entry is gone, and corrects the counts; it
// returns how many entries it indexed. It is idempotent and safe while
// workers add and remove entries (every step is one script), and reads the
// index with ZSCAN, reindexBatch ids per round trip. The second pass, over
// the facet sets, runs only when the counts still do not add up after the
// first: every entry is then in its facet, so a surplus is members whose
// entry an older binary removed.
func (s *Store) Reindex(ctx context.Context, ep string) (int64, error) {
	var n int64
	ks := s.facetKeys(ep)
	var cursor uint64
	for {
		kv, next, err := s.rdb.ZScan(ctx, keys.DLQIndex(ep), cursor, "", reindexBatch).Result()
		if err != nil {
			return n, fmt.Errorf("dlq reindex %s: %w", ep, err)
		}
		args := []any{keys.DLQFacetPrefix(ep)}
		for i := 0; i < len(kv); i += 2 {
			args = append(args, kv[i])
		}
		if len(args) > 1 {
			added, err := reindexScript.Run(ctx, s.rdb, ks, args...).Int64()
			if err != nil {
				return n, fmt.Errorf("dlq reindex %s: %w", ep, err)
			}
			n += added
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if _, complete, err := s.state(ctx, ep); err != nil || complete {
		return n, err
	}
	names, err := s.rdb.HKeys(ctx, keys.DLQFacets(ep)).Result()
	if err != nil {
		return n, fmt.Errorf("dlq reindex %s: %w", ep, err)
	}
	for _, name := range names {
		if err := s.prune(ctx, ep, name); err != nil {
			return n, err
		}
	}
	return n, nil
}

// prune checks one facet set against the entries hash.
func (s *Store) prune(ctx context.Context, ep, name string) error {
	set := keys.DLQFacetPrefix(ep) + name
	ks := []string{keys.DLQEntries(ep), keys.DLQFacets(ep), set}
	var cursor uint64
	for {
		kv, next, err := s.rdb.ZScan(ctx, set, cursor, "", reindexBatch).Result()
		if err != nil {
			return fmt.Errorf("dlq reindex %s: %w", ep, err)
		}
		args := []any{name}
		for i := 0; i < len(kv); i += 2 {
			args = append(args, kv[i])
		}
		if err := pruneScript.Run(ctx, s.rdb, ks, args...).Err(); err != nil {
			return fmt.Errorf("dlq reindex %s: %w", ep, err)
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}
