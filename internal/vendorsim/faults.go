package vendorsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/vendorq/vendorq/internal/clock"
)

// Fault makes a target misbehave. Code is rendered in the vendor's own format:
// a business code ("4004", "414", "8401"), or "http_NNN" for a bare HTTP status
// (e.g. "http_429", "http_500", "http_401"), or "garbage" for an undecodable body.
type Fault struct {
	Code       string        `json:"code,omitempty"`
	Times      int           `json:"times,omitempty"`       // inject this many times, then clear; 0 = until cleared
	Latency    time.Duration `json:"latency,omitempty"`     // added before answering (JSON: nanoseconds)
	Outage     bool          `json:"outage,omitempty"`      // close the connection without an answer
	RetryAfter int           `json:"retry_after,omitempty"` // seconds, sent as Retry-After where the vendor answers HTTP 429/503
}

// SetFault installs f on target, replacing any earlier fault there.
func (s *Sim) SetFault(target string, f Fault) error {
	if !knownTarget(target) {
		return fmt.Errorf("vendorsim: unknown target %q (want one of %v)", target, Targets)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[target] = &f
	return nil
}

// ClearFaults removes every fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	s.faults = map[string]*Fault{}
	s.mu.Unlock()
}

func knownTarget(t string) bool {
	for _, k := range Targets {
		if k == t {
			return true
		}
	}
	return false
}

// injected is what begin decided for one call.
type injected struct {
	Code       string // "" = behave normally
	RetryAfter int
}

// begin counts the call, applies latency and outage faults, and returns the
// injected code (if any) for the vendor handler to render. ok=false means the
// call was already answered (outage) and the handler must return.
func (s *Sim) begin(w http.ResponseWriter, r *http.Request, target string) (inj injected, ok bool) {
	s.mu.Lock()
	st := s.stats[target]
	st.arrive(s.now())
	var f Fault
	if p := s.faults[target]; p != nil {
		f = *p
		if p.Times > 0 {
			p.Times--
			if p.Times == 0 {
				delete(s.faults, target)
			}
		}
	}
	s.mu.Unlock()

	_ = clock.Sleep(r.Context(), f.Latency) // a client that hangs up ends the wait
	if f.Outage {
		s.count(target, "outage", false, "")
		if hj, isHJ := w.(http.Hijacker); isHJ {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return inj, false
			}
		}
		http.Error(w, "outage", http.StatusServiceUnavailable)
		return inj, false
	}
	if f.Code == "garbage" {
		s.count(target, "garbage", false, "")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"oops":`))
		return inj, false
	}
	return injected{Code: f.Code, RetryAfter: f.RetryAfter}, true
}

func (s *Sim) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	var req map[string]Fault
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"target\": {fault}}: " + err.Error()})
		return
	}
	for t, f := range req {
		if err := s.SetFault(t, f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *Sim) handleClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *Sim) handleReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}
