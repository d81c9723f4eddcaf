// Package dashdeps adapts the dead-letter store to the interfaces the
// exported dashboards package defines, so that dashboards' API takes no
// internal type (the worker and the dashboards' tests both use it).
package dashdeps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/dlq"
)

// ErrReadOnly: a replay was asked of a view built without an enqueuer.
var ErrReadOnly = errors.New("dead letters: read-only (no enqueuer to replay with)")

// DeadLetters is s as dashboards.DeadLetters; replays go through q, which
// may be nil for a read-only dashboard (a replay then fails with ErrReadOnly).
func DeadLetters(s *dlq.Store, q dlq.Enqueuer) dashboards.DeadLetters { return store{s, q} }

type store struct {
	*dlq.Store // Endpoints, Count and Purge as they are
	q          dlq.Enqueuer
}

// List converts the entries; dashboards.DeadLetter has dlq.Entry's fields,
// so a field one has and the other lacks stops the build here.
func (s store) List(ctx context.Context, endpoint string, offset, limit int) ([]dashboards.DeadLetter, error) {
	es, err := s.Store.List(ctx, endpoint, offset, limit)
	out := make([]dashboards.DeadLetter, len(es))
	for i, e := range es {
		out[i] = dashboards.DeadLetter(e)
	}
	return out, err
}

func (s store) ReplayOne(ctx context.Context, endpoint, id string) (bool, error) {
	if s.q == nil {
		return false, ErrReadOnly
	}
	return s.Store.ReplayOne(ctx, s.q, endpoint, id)
}

func (s store) ReplayAll(ctx context.Context, endpoint string) (int64, error) {
	if s.q == nil {
		return 0, ErrReadOnly
	}
	return s.Store.ReplayAll(ctx, s.q, endpoint)
}

// filter converts a dashboard filter; a bad field wraps dashboards.ErrBadFilter.
func filter(f dashboards.DeadLetterFilter) (dlq.Filter, error) {
	out := dlq.Filter{Codes: f.Codes, Class: f.Class, Type: f.Type, Grep: f.Grep}
	if f.Endpoint != "" {
		out.Endpoints = []string{f.Endpoint}
	}
	now := time.Now()
	for _, tv := range []struct {
		name, v string
		t       *time.Time
	}{{"since", f.Since, &out.Since}, {"until", f.Until, &out.Until}} {
		if tv.v == "" {
			continue
		}
		t, err := dlq.ParseTime(tv.v, now)
		if err != nil {
			return out, fmt.Errorf("%w: %s: %w", dashboards.ErrBadFilter, tv.name, err)
		}
		*tv.t = t
	}
	return out, badFilter(out.Validate())
}

// badFilter rewraps the store's filter and cursor errors as the dashboard's.
func badFilter(err error) error {
	for _, sentinel := range []error{dlq.ErrBadFilter, dlq.ErrBadCursor} {
		if errors.Is(err, sentinel) {
			return fmt.Errorf("%w: %s", dashboards.ErrBadFilter, err.Error()[len(sentinel.Error())+2:])
		}
	}
	return err
}

func (s store) ListFiltered(ctx context.Context, f dashboards.DeadLetterFilter, after string, limit int) (dashboards.DeadLetterPage, error) {
	df, err := filter(f)
	if err != nil {
		return dashboards.DeadLetterPage{}, err
	}
	p, err := s.Store.ListFiltered(ctx, df, dlq.Cursor(after), limit)
	out := dashboards.DeadLetterPage{Next: string(p.Next), Entries: make([]dashboards.DeadLetter, len(p.Entries))}
	for i, e := range p.Entries {
		out.Entries[i] = dashboards.DeadLetter(e)
	}
	return out, badFilter(err)
}

func (s store) CountBy(ctx context.Context, f dashboards.DeadLetterFilter, by string) ([]dashboards.DeadLetterGroup, error) {
	df, err := filter(f)
	if err != nil {
		return nil, err
	}
	gs, err := s.Store.CountBy(ctx, df, by)
	out := make([]dashboards.DeadLetterGroup, len(gs))
	for i, g := range gs {
		out[i] = dashboards.DeadLetterGroup(g)
	}
	return out, badFilter(err)
}

func (s store) ReplayFilter(ctx context.Context, f dashboards.DeadLetterFilter) (int64, error) {
	if s.q == nil {
		return 0, ErrReadOnly
	}
	df, err := filter(f)
	if err != nil {
		return 0, err
	}
	res, err := s.Store.ReplayFilter(ctx, s.q, df)
	return res.Done, badFilter(err)
}

func (s store) PurgeFilter(ctx context.Context, f dashboards.DeadLetterFilter) (int64, error) {
	df, err := filter(f)
	if err != nil {
		return 0, err
	}
	n, err := s.Store.PurgeFilter(ctx, df, dlq.PurgeOptions{})
	return n, badFilter(err)
}
