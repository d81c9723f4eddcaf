package dlq

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
)

// Groupings of CountBy.
const (
	ByEndpoint = "endpoint"
	ByCode     = "code"
	ByClass    = "class"
	ByType     = "type"
)

// Groupings lists the values CountBy takes.
var Groupings = []string{ByCode, ByEndpoint, ByClass, ByType}

// Group is the count of one group.
type Group struct {
	Key   string // the code, endpoint, class or type
	Count int64
}

// CountBy counts the entries that pass f per group (by: ByCode,
// ByEndpoint, ByClass, ByType; "" = ByEndpoint), largest first; an
// endpoint without any counts 0 when grouping by endpoint. Without grep it
// reads counts only: the facets hash, or a ZCOUNT per selected facet set
// when f has a time range; with grep it reads the entries the other
// filters select.
func (s *Store) CountBy(ctx context.Context, f Filter, by string) ([]Group, error) {
	if by == "" {
		by = ByEndpoint
	}
	if !slices.Contains(Groupings, by) {
		return nil, fmt.Errorf("%w: by: %q is not one of %s", ErrBadFilter, by, strings.Join(Groupings, ", "))
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	eps, err := s.filterEndpoints(ctx, f)
	if err != nil {
		return nil, err
	}
	if by == ByEndpoint {
		for _, ep := range eps {
			counts[ep] = 0
		}
	}
	if f.Grep != "" {
		err = s.Walk(ctx, f, 1000, func(es []Entry) error {
			for _, e := range es {
				counts[groupOf(by, e.Endpoint, Facet{Class: e.Class, Type: e.Type, Code: e.Code})]++
			}
			return nil
		})
	} else {
		for _, ep := range eps {
			if err = s.countEndpoint(ctx, f, by, ep, counts); err != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]Group, 0, len(counts))
	for k, n := range counts {
		out = append(out, Group{Key: k, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

func groupOf(by, ep string, fa Facet) string {
	switch by {
	case ByCode:
		return fa.Code
	case ByClass:
		return fa.Class
	case ByType:
		return fa.Type
	}
	return ep
}

// countEndpoint adds the counts of one endpoint (no grep).
func (s *Store) countEndpoint(ctx context.Context, f Filter, by, ep string, counts map[string]int64) error {
	lo, hi, ok := f.scoreRange()
	if !ok {
		return nil
	}
	timed := lo != minScore || hi != maxScore
	if !f.faceted() && by == ByEndpoint {
		var n int64
		var err error
		if timed {
			n, err = s.rdb.ZCount(ctx, keys.DLQIndex(ep), strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10)).Result()
		} else {
			n, err = s.rdb.ZCard(ctx, keys.DLQIndex(ep)).Result()
		}
		if err != nil {
			return fmt.Errorf("dlq count %s: %w", ep, err)
		}
		counts[ep] += n
		return nil
	}
	fs, err := s.facets(ctx, ep)
	if err != nil {
		return err
	}
	var sel []Facet
	for _, fa := range fs {
		if f.matches(fa) {
			sel = append(sel, fa)
		}
	}
	if timed {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.IntCmd, len(sel))
		for i, fa := range sel {
			cmds[i] = pipe.ZCount(ctx, keys.DLQFacetPrefix(ep)+fa.name, strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10))
		}
		if _, err := pipe.Exec(ctx); err != nil && len(sel) > 0 {
			return fmt.Errorf("dlq count %s: %w", ep, err)
		}
		for i := range sel {
			sel[i].Count = cmds[i].Val()
		}
	}
	for _, fa := range sel {
		if fa.Count > 0 || by == ByEndpoint {
			counts[groupOf(by, ep, fa)] += fa.Count
		}
	}
	return nil
}

// Total counts the entries that pass f.
func (s *Store) Total(ctx context.Context, f Filter) (int64, error) {
	gs, err := s.CountBy(ctx, f, ByEndpoint)
	var n int64
	for _, g := range gs {
		n += g.Count
	}
	return n, err
}
