package dlq

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
)

// ErrBadCursor: a paging cursor that this package did not issue.
var ErrBadCursor = errors.New("dlq: bad cursor")

// Listing order: newest first, that is by dead time descending, then task
// id descending (a sorted set orders equal scores by member), then endpoint
// descending. A cursor is the position of the last entry of a page; the
// next page starts strictly after it, so entries added meanwhile (newer,
// or older than the cursor) neither shift nor repeat a page.
type pos struct {
	ms     int64
	id, ep string
}

// before reports whether a is listed before b.
func before(a, b pos) bool {
	if a.ms != b.ms {
		return a.ms > b.ms
	}
	if a.id != b.id {
		return a.id > b.id
	}
	return a.ep > b.ep
}

// Cursor is an opaque paging position ("" = from the newest).
type Cursor string

type cursorJSON struct {
	T int64  `json:"t"`
	E string `json:"e"`
	I string `json:"i"`
}

func (p pos) cursor() Cursor {
	b, _ := json.Marshal(cursorJSON{p.ms, p.ep, p.id})
	return Cursor(base64.RawURLEncoding.EncodeToString(b))
}

func (c Cursor) pos() (*pos, error) {
	if c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(string(c))
	var cj cursorJSON
	if err == nil {
		err = json.Unmarshal(b, &cj)
	}
	if err != nil || cj.E == "" {
		return nil, fmt.Errorf("%w: after: %.40q is not a cursor printed by a listing", ErrBadCursor, string(c))
	}
	return &pos{ms: cj.T, id: cj.I, ep: cj.E}, nil
}

// stream reads one sorted set (an endpoint's index or one of its facet
// sets) in listing order, a buffer at a time, within the filter's range.
type stream struct {
	ep, key string
	lo, hi  int64 // inclusive score range
	buf     []pos
	last    *pos // the last position handed out or skipped
	done    bool
}

// fetch asks for the next buffer after s.last, on pipe; apply reads it.
// Members at the cursor's own score that are not after it come first in
// the answer and are skipped; should a whole answer be such members (many
// entries dead in the same millisecond), apply asks again further on.
func (s *stream) fetch(ctx context.Context, pipe redis.Pipeliner, n int, offset int64) *redis.ZSliceCmd {
	hi := s.hi
	if s.last != nil && s.last.ms < hi {
		hi = s.last.ms
	}
	return pipe.ZRevRangeByScoreWithScores(ctx, s.key, &redis.ZRangeBy{
		Max: strconv.FormatInt(hi, 10), Min: strconv.FormatInt(s.lo, 10), Offset: offset, Count: int64(n),
	})
}

// apply takes a fetch's answer; it reports whether the whole answer was
// skipped (and another fetch at offset+len is needed).
func (s *stream) apply(zs []redis.Z, n int) (again bool) {
	kept := 0
	for _, z := range zs {
		p := pos{ms: int64(z.Score), id: z.Member.(string), ep: s.ep}
		if s.last != nil && !before(*s.last, p) {
			continue
		}
		s.buf = append(s.buf, p)
		kept++
	}
	if len(zs) < n {
		s.done = true
		return false
	}
	return kept == 0
}

// walker merges the streams of a filter into one listing.
type walker struct {
	st      *Store
	f       Filter
	streams []*stream
	last    *pos // the last entry handed out
	batch   int  // buffer size per stream
}

// newWalker plans a walk of f after cursor: per endpoint its index zset
// when f names no code, class or type, else the facet sets it selects.
func (s *Store) newWalker(ctx context.Context, f Filter, after *pos, batch int) (*walker, error) {
	w := &walker{st: s, f: f, last: after, batch: batch}
	lo, hi, ok := f.scoreRange()
	if !ok {
		return w, nil
	}
	eps, err := s.filterEndpoints(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, ep := range eps {
		var ks []string
		if !f.faceted() {
			ks = []string{keys.DLQIndex(ep)}
		} else {
			fs, err := s.facets(ctx, ep)
			if err != nil {
				return nil, err
			}
			for _, fa := range fs {
				if f.matches(fa) {
					ks = append(ks, keys.DLQFacetPrefix(ep)+fa.name)
				}
			}
		}
		for _, k := range ks {
			st := &stream{ep: ep, key: k, lo: lo, hi: hi}
			if after != nil {
				c := *after
				st.last = &c
			}
			w.streams = append(w.streams, st)
		}
	}
	return w, nil
}

// filterEndpoints is f.Endpoints, or every endpoint with dead letters.
func (s *Store) filterEndpoints(ctx context.Context, f Filter) ([]string, error) {
	if len(f.Endpoints) > 0 {
		return f.Endpoints, nil
	}
	return s.Endpoints(ctx)
}

// refill fetches, in one round trip per round, every stream whose buffer
// is empty and that is not done.
func (w *walker) refill(ctx context.Context) error {
	offsets := map[*stream]int64{}
	for {
		var need []*stream
		for _, s := range w.streams {
			if len(s.buf) == 0 && !s.done {
				need = append(need, s)
			}
		}
		if len(need) == 0 {
			return nil
		}
		pipe := w.st.rdb.Pipeline()
		cmds := make([]*redis.ZSliceCmd, len(need))
		for i, s := range need {
			cmds[i] = s.fetch(ctx, pipe, w.batch, offsets[s])
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("dlq list: %w", err)
		}
		for i, s := range need {
			zs := cmds[i].Val()
			if s.apply(zs, w.batch) {
				offsets[s] += int64(len(zs))
			} else {
				delete(offsets, s)
			}
		}
	}
}

// nextPositions returns up to n positions in listing order.
func (w *walker) nextPositions(ctx context.Context, n int) ([]pos, error) {
	var out []pos
	for len(out) < n {
		if err := w.refill(ctx); err != nil {
			return nil, err
		}
		var best *stream
		for _, s := range w.streams {
			if len(s.buf) > 0 && (best == nil || before(s.buf[0], best.buf[0])) {
				best = s
			}
		}
		if best == nil {
			break
		}
		p := best.buf[0]
		best.buf = best.buf[1:]
		best.last = &p
		out = append(out, p)
	}
	return out, nil
}

// next returns up to n entries that pass the whole filter, in listing
// order, reading w.batch positions at a time; an empty answer means the
// walk is over.
func (w *walker) next(ctx context.Context, n int) ([]Entry, error) {
	var out []Entry
	for len(out) < n {
		ps, err := w.nextPositions(ctx, min(w.batch, max(n-len(out), 1)))
		if err != nil || len(ps) == 0 {
			return out, err
		}
		es, err := w.st.load(ctx, ps)
		if err != nil {
			return out, err
		}
		for _, e := range es {
			if e != nil && w.f.grepMatch(*e) {
				out = append(out, *e)
			}
		}
		// Every position read was tested (at most n-len(out) were read, so
		// none is left over): the walk goes on after the last of them.
		p := ps[len(ps)-1]
		w.last = &p
	}
	return out, nil
}

// more reports whether the walk has anything left before the filter's
// grep (one round trip at most).
func (w *walker) more(ctx context.Context) (bool, error) {
	if err := w.refill(ctx); err != nil {
		return false, err
	}
	for _, s := range w.streams {
		if len(s.buf) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// load reads the entries at ps (nil where one is gone), one HMGET per
// endpoint in one pipeline.
func (s *Store) load(ctx context.Context, ps []pos) ([]*Entry, error) {
	byEp := map[string][]int{}
	var order []string
	for i, p := range ps {
		if _, ok := byEp[p.ep]; !ok {
			order = append(order, p.ep)
		}
		byEp[p.ep] = append(byEp[p.ep], i)
	}
	pipe := s.rdb.Pipeline()
	cmds := map[string]*redis.SliceCmd{}
	for _, ep := range order {
		ids := make([]string, len(byEp[ep]))
		for j, i := range byEp[ep] {
			ids[j] = ps[i].id
		}
		cmds[ep] = pipe.HMGet(ctx, keys.DLQEntries(ep), ids...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("dlq get: %w", err)
	}
	out := make([]*Entry, len(ps))
	for _, ep := range order {
		for j, v := range cmds[ep].Val() {
			i := byEp[ep][j]
			if str, ok := v.(string); ok {
				e := decodeEntry(ep, ps[i].id, str)
				e.Endpoint = ep // the key's endpoint is the one a removal uses
				out[i] = &e
			}
		}
	}
	return out, nil
}

// Page is one page of a listing.
type Page struct {
	Entries []Entry
	// Next continues the listing after the last entry; "" when there is
	// nothing more.
	Next Cursor
}

// MaxPageSize bounds a page.
const MaxPageSize = 1000

// ListFiltered returns up to limit entries that pass f, newest first, starting
// after cursor ("" = the newest). Its cost is that of the page (plus the
// entries that grep rejects), however many entries the store holds.
func (s *Store) ListFiltered(ctx context.Context, f Filter, after Cursor, limit int) (Page, error) {
	if err := f.Validate(); err != nil {
		return Page{}, err
	}
	p, err := after.pos()
	if err != nil {
		return Page{}, err
	}
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	w, err := s.newWalker(ctx, f, p, limit+1)
	if err != nil {
		return Page{}, err
	}
	es, err := w.next(ctx, limit)
	if err != nil {
		return Page{}, err
	}
	page := Page{Entries: es}
	if len(es) == limit {
		more, err := w.more(ctx)
		if err != nil {
			return Page{}, err
		}
		if more && w.last != nil {
			page.Next = w.last.cursor()
		}
	}
	return page, nil
}

// Walk calls fn with the entries that pass f, newest first, batch at a
// time, so that millions never sit in memory at once. fn may remove the
// entries it is given (the walk goes on after them).
func (s *Store) Walk(ctx context.Context, f Filter, batch int, fn func([]Entry) error) error {
	if err := f.Validate(); err != nil {
		return err
	}
	w, err := s.newWalker(ctx, f, nil, batch)
	if err != nil {
		return err
	}
	for {
		es, err := w.next(ctx, batch)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		if err := fn(es); err != nil {
			return err
		}
	}
}
