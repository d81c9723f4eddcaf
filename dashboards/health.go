package dashboards

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Health is what /healthz checks.
type Health struct {
	Ping    func(ctx context.Context) error // Redis answers PING
	Running func() bool                     // the worker's servers are started
}

// healthTimeout bounds the Redis check so that a hung Redis makes /healthz
// answer 503 promptly instead of hanging the prober.
const healthTimeout = 2 * time.Second

// serveHealth answers 200 {"redis":"ok","servers":"running"} when both
// checks pass, else 503 with the failing check named. The Redis error text
// is left out: it can carry addresses and is of no use to a prober.
func (h Health) serveHealth(w http.ResponseWriter, r *http.Request) {
	status := map[string]string{"redis": "ok", "servers": "running"}
	code := http.StatusOK
	if h.Ping == nil {
		status["redis"] = "unknown"
		code = http.StatusServiceUnavailable
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		err := h.Ping(ctx)
		cancel()
		if err != nil {
			status["redis"] = "unreachable"
			code = http.StatusServiceUnavailable
		}
	}
	if h.Running == nil || !h.Running() {
		status["servers"] = "stopped"
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(status)
}
