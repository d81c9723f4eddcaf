// Package dashdeps adapts the dead-letter store to the interfaces the
// exported dashboards package defines, so that dashboards' API takes no
// internal type (the worker and the dashboards' tests both use it).
package dashdeps

import (
	"context"
	"errors"

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
