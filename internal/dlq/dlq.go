// Package dlq is vendorq's dead-letter queue: a durable, unbounded store in
// Redis of every task that can never succeed, per endpoint, which operators
// count, list, replay and purge. Unlike asynq's archive (10,000 tasks and 90
// days per queue, trimmed silently) nothing here is ever dropped except by
// an explicit replay or purge.
//
// Layout per endpoint (one hash tag, so each script stays in one cluster slot):
//
//	vq:{ep}:dlq          sorted set, member = task id, score = dead time (ms)
//	vq:{ep}:dlq:entries  hash, task id -> JSON Entry
//	vq:dlq:endpoints     set of endpoints that have had dead letters
//
// plus the facet index of facets.go, which filters, counts and pages
// (filter.go, page.go, count.go, bulk.go) use so that they never scan the
// whole store.
package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/tasks"
)

// ErrNotFound: no dead letter with that id on that endpoint.
var ErrNotFound = errors.New("dlq: no such entry")

// Entry is one dead task.
type Entry struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Endpoint     string          `json:"endpoint"`
	Error        string          `json:"error"`
	Class        string          `json:"class"`
	Code         string          `json:"code"`
	Attempts     int             `json:"attempts"`
	FirstAttempt time.Time       `json:"first_attempt"`
	LastAttempt  time.Time       `json:"last_attempt"`
	Payload      json.RawMessage `json:"payload"`
}

// Masked is e with the phone numbers masked wherever a dead letter carries
// them: its id (a producer's key may hold one), its error (vendors echo
// the number) and its payload, which stays valid JSON.
func (e Entry) Masked() Entry {
	e.ID = tasks.MaskPhones(e.ID)
	e.Error = tasks.MaskPhones(e.Error)
	e.Payload = tasks.MaskPhonesJSON(e.Payload)
	return e
}

// Store reads and writes dead letters.
type Store struct {
	rdb redis.UniversalClient
}

// New returns a store on rdb.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Add stores e. It is idempotent per (endpoint, id): a task that dies twice
// (a worker crashed after writing it) keeps one entry, the latest.
func (s *Store) Add(ctx context.Context, e Entry) error {
	if e.ID == "" || e.Endpoint == "" {
		return fmt.Errorf("dlq: entry needs id and endpoint")
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("dlq: encode: %w", err)
	}
	score := e.LastAttempt.UnixMilli()
	if err := addScript.Run(ctx, s.rdb, s.facetKeys(e.Endpoint), e.ID, score, b, keys.DLQFacetPrefix(e.Endpoint)).Err(); err != nil {
		return fmt.Errorf("dlq add %s/%s: %w", e.Endpoint, e.ID, err)
	}
	if err := s.rdb.SAdd(ctx, keys.DLQEndpoints, e.Endpoint).Err(); err != nil {
		return fmt.Errorf("dlq add %s/%s: %w", e.Endpoint, e.ID, err)
	}
	return nil
}

// AddMany stores es as Add does, in pipelines of addManyBatch script calls
// (a bulk load: imports, tests, benchmarks).
func (s *Store) AddMany(ctx context.Context, es []Entry) error {
	if err := addScript.Load(ctx, s.rdb).Err(); err != nil {
		return fmt.Errorf("dlq add: %w", err)
	}
	eps := map[string]bool{}
	pipe := s.rdb.Pipeline()
	flush := func() error {
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("dlq add: %w", err)
		}
		return nil
	}
	for _, e := range es {
		if e.ID == "" || e.Endpoint == "" {
			return fmt.Errorf("dlq: entry needs id and endpoint")
		}
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("dlq: encode: %w", err)
		}
		addScript.EvalSha(ctx, pipe, s.facetKeys(e.Endpoint), e.ID, e.LastAttempt.UnixMilli(), b, keys.DLQFacetPrefix(e.Endpoint))
		if !eps[e.Endpoint] {
			eps[e.Endpoint] = true
			pipe.SAdd(ctx, keys.DLQEndpoints, e.Endpoint)
		}
		if pipe.Len() >= addManyBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

const addManyBatch = 1000

// Endpoints returns every endpoint that has had dead letters, sorted.
func (s *Store) Endpoints(ctx context.Context) ([]string, error) {
	eps, err := s.rdb.SMembers(ctx, keys.DLQEndpoints).Result()
	if err != nil {
		return nil, fmt.Errorf("dlq endpoints: %w", err)
	}
	sort.Strings(eps)
	return eps, nil
}

// Count returns the number of dead letters on endpoint.
func (s *Store) Count(ctx context.Context, endpoint string) (int64, error) {
	n, err := s.Counts(ctx, []string{endpoint})
	if err != nil {
		return 0, fmt.Errorf("%w (%s)", err, endpoint)
	}
	return n[0], nil
}

// Counts returns Count of every endpoint, in order, in one pipelined round
// trip (a metrics scrape or a dashboard page over 1,000 endpoints).
func (s *Store) Counts(ctx context.Context, endpoints []string) ([]int64, error) {
	out := make([]int64, len(endpoints))
	if len(endpoints) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(endpoints))
	for i, ep := range endpoints {
		cmds[i] = pipe.ZCard(ctx, keys.DLQIndex(ep))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("dlq count: %w", err)
	}
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// List returns up to limit entries of endpoint, newest first, skipping offset.
// limit <= 0 means all.
func (s *Store) List(ctx context.Context, endpoint string, offset, limit int) ([]Entry, error) {
	stop := int64(-1)
	if limit > 0 {
		stop = int64(offset + limit - 1)
	}
	ids, err := s.rdb.ZRevRange(ctx, keys.DLQIndex(endpoint), int64(offset), stop).Result()
	if err != nil {
		return nil, fmt.Errorf("dlq list %s: %w", endpoint, err)
	}
	return s.get(ctx, endpoint, ids)
}

// Scan calls fn for every entry of endpoint, newest first, in pages, so that
// millions of entries never sit in memory at once.
func (s *Store) Scan(ctx context.Context, endpoint string, fn func(Entry) error) error {
	const page = 500
	// Walk by score from the top; entries removed by fn do not shift pages
	// because the cursor is the last score seen, not an offset.
	maxScore := "+inf"
	seen := map[string]bool{}
	for {
		zs, err := s.rdb.ZRevRangeByScoreWithScores(ctx, keys.DLQIndex(endpoint), &redis.ZRangeBy{Max: maxScore, Min: "-inf", Count: page}).Result()
		if err != nil {
			return fmt.Errorf("dlq scan %s: %w", endpoint, err)
		}
		var ids []string
		for _, z := range zs {
			id := z.Member.(string)
			if !seen[id] {
				ids = append(ids, id)
				seen[id] = true
			}
		}
		if len(ids) == 0 {
			return nil
		}
		entries, err := s.get(ctx, endpoint, ids)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		maxScore = fmt.Sprintf("%d", int64(zs[len(zs)-1].Score))
		if len(zs) < page {
			return nil
		}
	}
}

// Get returns one entry.
func (s *Store) Get(ctx context.Context, endpoint, id string) (Entry, error) {
	es, err := s.get(ctx, endpoint, []string{id})
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, fmt.Errorf("%w: %s/%s", ErrNotFound, endpoint, id)
	}
	return es[0], nil
}

func (s *Store) get(ctx context.Context, endpoint string, ids []string) ([]Entry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	vals, err := s.rdb.HMGet(ctx, keys.DLQEntries(endpoint), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("dlq get %s: %w", endpoint, err)
	}
	out := make([]Entry, 0, len(vals))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // index and hash disagree only mid-remove; skip
		}
		out = append(out, decodeEntry(endpoint, ids[i], str))
	}
	return out, nil
}

// decodeEntry decodes a stored entry; one that does not decode is still
// shown, with what is known, never hidden.
func decodeEntry(endpoint, id, raw string) Entry {
	var e Entry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return Entry{ID: id, Endpoint: endpoint, Error: "undecodable dead letter: " + err.Error(), Payload: nil}
	}
	return e
}

// Remove deletes one entry; it reports whether it existed.
func (s *Store) Remove(ctx context.Context, endpoint, id string) (bool, error) {
	n, err := s.removeIDs(ctx, endpoint, []string{id})
	if err != nil {
		return false, fmt.Errorf("dlq remove %s/%s: %w", endpoint, id, err)
	}
	return n == 1, nil
}

// removeIDs deletes the entries ids of endpoint (removeScript) and returns
// how many there were.
func (s *Store) removeIDs(ctx context.Context, endpoint string, ids []string) (int64, error) {
	args := make([]any, 0, len(ids)+1)
	args = append(args, keys.DLQFacetPrefix(endpoint))
	for _, id := range ids {
		args = append(args, id)
	}
	return removeScript.Run(ctx, s.rdb, s.facetKeys(endpoint), args...).Int64()
}

// PurgeOptions tune a purge.
type PurgeOptions struct {
	// KeepKeys keeps the purged tasks' dedupe markers: their keys then stay
	// blocked (a producer's task with the same key is a "duplicate") until
	// the dedupe window ends. By default a purge clears them, as a replay
	// does, so that the fixed task can be enqueued again under its key.
	KeepKeys bool
}

// purgeBatch is how many entries a purge removes per round trip.
const purgeBatch = 500

// Purge deletes every entry of endpoint and the dedupe markers of their
// tasks, and returns how many entries there were.
func (s *Store) Purge(ctx context.Context, endpoint string) (int64, error) {
	return s.PurgeWith(ctx, endpoint, PurgeOptions{})
}

// PurgeWith deletes every entry of endpoint, purgeBatch at a time (so that
// millions never sit in memory at once), and returns how many there were.
// Unless opts.KeepKeys, the dedupe marker of each batch's tasks is deleted
// before the batch itself, so that an interrupted purge never leaves a
// purged task's key blocked. Markers carry no hash tag (they spread over a
// cluster), so each is deleted on its own, pipelined; the entries' two keys
// share the endpoint's slot and go in one script.
func (s *Store) PurgeWith(ctx context.Context, endpoint string, opts PurgeOptions) (int64, error) {
	var n int64
	for {
		ids, err := s.rdb.ZRange(ctx, keys.DLQIndex(endpoint), 0, purgeBatch-1).Result()
		if err != nil {
			return n, fmt.Errorf("dlq purge %s: %w", endpoint, err)
		}
		if len(ids) == 0 {
			return n, nil
		}
		if !opts.KeepKeys {
			if err := s.clearMarkers(ctx, endpoint, ids); err != nil {
				return n, err
			}
		}
		removed, err := s.removeIDs(ctx, endpoint, ids)
		if err != nil {
			return n, fmt.Errorf("dlq purge %s: %w", endpoint, err)
		}
		n += removed
	}
}

// PurgeOne deletes the entry id of endpoint and, unless opts.KeepKeys, its
// task's dedupe marker; it reports whether the entry existed. Without an
// entry nothing is touched: the marker may be that of a task that succeeded.
func (s *Store) PurgeOne(ctx context.Context, endpoint, id string, opts PurgeOptions) (bool, error) {
	ok, err := s.rdb.HExists(ctx, keys.DLQEntries(endpoint), id).Result()
	if err != nil {
		return false, fmt.Errorf("dlq purge %s/%s: %w", endpoint, id, err)
	}
	if !ok {
		return false, nil
	}
	if !opts.KeepKeys {
		if err := s.clearMarkers(ctx, endpoint, []string{id}); err != nil {
			return false, err
		}
	}
	return s.Remove(ctx, endpoint, id)
}

// clearMarkers deletes the dedupe markers of ids, one DEL per key in one
// pipeline (a cluster client sends each to its own slot's node).
func (s *Store) clearMarkers(ctx context.Context, endpoint string, ids []string) error {
	pipe := s.rdb.Pipeline()
	for _, id := range ids {
		pipe.Del(ctx, keys.Dedupe(endpoint, id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("dlq purge %s: clear dedupe markers: %w", endpoint, err)
	}
	return nil
}

// Enqueuer is the part of *asynq.Client that replay needs.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Replay puts entry e back on its endpoint's queue under its original task
// id and removes the entry only once the task is enqueued (a task with that
// id already queued counts as enqueued). The dedupe marker of the id is
// cleared first so that the replayed task is not taken for a duplicate.
func (s *Store) Replay(ctx context.Context, q Enqueuer, e Entry) error {
	if e.Type == "" || len(e.Payload) == 0 {
		return fmt.Errorf("dlq replay %s/%s: entry has no task type or payload", e.Endpoint, e.ID)
	}
	if err := s.rdb.Del(ctx, keys.Dedupe(e.Endpoint, e.ID)).Err(); err != nil {
		return fmt.Errorf("dlq replay %s/%s: %w", e.Endpoint, e.ID, err)
	}
	_, err := q.EnqueueContext(ctx, replayTask(e), replayOptions(e)...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("dlq replay %s/%s: %w", e.Endpoint, e.ID, err)
	}
	if _, err := s.Remove(ctx, e.Endpoint, e.ID); err != nil {
		return err
	}
	return nil
}

// ReplayOne replays the entry id of endpoint; it reports false (and no
// error) when there is no such entry.
func (s *Store) ReplayOne(ctx context.Context, q Enqueuer, endpoint, id string) (bool, error) {
	e, err := s.Get(ctx, endpoint, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := s.Replay(ctx, q, e); err != nil {
		return false, err
	}
	return true, nil
}

// ReplayAll replays every entry of endpoint, newest first, and returns how
// many were put back; on an error it stops and reports those replayed so far
// (each entry is removed only once its task is queued, so nothing is lost).
func (s *Store) ReplayAll(ctx context.Context, q Enqueuer, endpoint string) (int64, error) {
	var n int64
	err := s.Scan(ctx, endpoint, func(e Entry) error {
		if err := s.Replay(ctx, q, e); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}
