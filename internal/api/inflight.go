package api

import "sync"

// minBodyCost is what a request is counted at, at least, against the body
// budget: besides its body it holds buffers, a goroutine and its decoded
// task, so that tiny requests cannot pile up without bound either.
const minBodyCost = 64 << 10

// bodyCost is what a request with a body of declared bytes (-1: unknown)
// on a route limited to limit bytes is counted at.
func bodyCost(declared, limit int64) int64 {
	if declared < 0 || declared > limit {
		declared = limit // chunked, or refused with 413 once limit bytes are read
	}
	return max(declared, min(minBodyCost, limit))
}

// bodyBudget bounds the bytes of request bodies in flight (Options.MaxInFlight).
type bodyBudget struct {
	size int64 // <= 0: unbounded

	mu   sync.Mutex
	used int64
}

func newBodyBudget(size int64) *bodyBudget { return &bodyBudget{size: size} }

// tryReserve takes n bytes of the budget if they are free and returns the
// function that gives them back (call it once). It never waits: a request that would
// have to is refused, so that no queue of waiting requests (each holding a
// connection and a goroutine) can grow instead.
func (b *bodyBudget) tryReserve(n int64) (release func(), ok bool) {
	if b.size <= 0 {
		return func() {}, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.size {
		return nil, false
	}
	b.used += n
	return func() {
		b.mu.Lock()
		b.used -= n
		b.mu.Unlock()
	}, true
}
