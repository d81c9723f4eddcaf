package vendorsim

import (
	"net/http"
	"sort"
	"time"
)

// Stats is what one target received.
type Stats struct {
	Calls      int64            `json:"calls"`      // every request that reached the target
	Accepted   int64            `json:"accepted"`   // answered as success
	Duplicates int64            `json:"duplicates"` // accepted again with idempotency data seen before
	Codes      map[string]int64 `json:"codes"`      // answers by code ("ok", "4004", "http_429", …)
	// MaxInWindow is the most calls that arrived within any 1-second window.
	MaxInWindow int `json:"max_in_window"`
	// MaxAcceptedInWindow is the most accepted calls within any 1-second window.
	MaxAcceptedInWindow int       `json:"max_accepted_in_window"`
	FirstAccepted       time.Time `json:"first_accepted"`
	LastAccepted        time.Time `json:"last_accepted"`
	Tokens              int64     `json:"tokens,omitempty"` // dhgjcloud tokens issued
	// ByKey counts accepted calls per idempotency key (record data hash, msgid:phone).
	ByKey map[string]int `json:"-"`
}

type targetStats struct {
	Stats
	arrivals *window
	accepts  *window
}

func newTargetStats() *targetStats {
	return &targetStats{
		Stats:    Stats{Codes: map[string]int64{}, ByKey: map[string]int{}},
		arrivals: newWindow(time.Second),
		accepts:  newWindow(time.Second),
	}
}

func (t *targetStats) arrive(now time.Time) {
	t.Calls++
	if n := t.arrivals.add(now); n > t.MaxInWindow {
		t.MaxInWindow = n
	}
}

// count records the answer of one call. key is the idempotency data of an
// accepted call ("" when there is none).
func (s *Sim) count(target, code string, accepted bool, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.countLocked(target, code, accepted, key)
}

func (s *Sim) countLocked(target, code string, accepted bool, key string) {
	st := s.stats[target]
	st.Codes[code]++
	if !accepted {
		return
	}
	now := s.now()
	st.Accepted++
	if st.FirstAccepted.IsZero() {
		st.FirstAccepted = now
	}
	st.LastAccepted = now
	if n := st.accepts.add(now); n > st.MaxAcceptedInWindow {
		st.MaxAcceptedInWindow = n
	}
	if key != "" {
		if st.ByKey[key] > 0 {
			st.Duplicates++
		}
		st.ByKey[key]++
	}
}

// Stats returns a copy of every target's statistics.
func (s *Sim) Stats() map[string]Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Stats, len(s.stats))
	for name, st := range s.stats {
		c := st.Stats
		c.Codes = make(map[string]int64, len(st.Codes))
		for k, v := range st.Codes {
			c.Codes[k] = v
		}
		c.ByKey = make(map[string]int, len(st.ByKey))
		for k, v := range st.ByKey {
			c.ByKey[k] = v
		}
		out[name] = c
	}
	return out
}

func (s *Sim) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// window counts events in a sliding window (closed on the right, open on the left).
type window struct {
	width time.Duration
	times []time.Time
}

func newWindow(width time.Duration) *window { return &window{width: width} }

// add records an event at now and returns the number of events in (now-width, now].
func (w *window) add(now time.Time) int {
	w.times = append(w.times, now)
	cut := now.Add(-w.width)
	i := sort.Search(len(w.times), func(i int) bool { return w.times[i].After(cut) })
	if i > 0 {
		w.times = append(w.times[:0], w.times[i:]...)
	}
	return len(w.times)
}
