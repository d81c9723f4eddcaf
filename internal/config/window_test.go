package config

import (
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/tasks"
)

// SPEC §3.6: send_window {from, to, lanes}; lanes default [low]; a window
// may wrap past midnight.
func TestSendWindow(t *testing.T) {
	cases := []struct {
		yaml     string
		from, to time.Duration
		lanes    []tasks.Priority
	}{
		{`{from: "08:00", to: "21:00"}`, 8 * time.Hour, 21 * time.Hour, []tasks.Priority{tasks.PriorityLow}},
		{`{from: "22:30", to: "06:00", lanes: [low, default]}`, 22*time.Hour + 30*time.Minute, 6 * time.Hour, []tasks.Priority{tasks.PriorityLow, tasks.PriorityDefault}},
		{`{from: "00:00", to: "23:59", lanes: [high]}`, 0, 23*time.Hour + 59*time.Minute, []tasks.Priority{tasks.PriorityHigh}},
	}
	for _, c := range cases {
		cfg, err := Parse([]byte(smsEndpoint+"    send_window: "+c.yaml+"\n"), env(nil))
		if err != nil {
			t.Fatalf("%s: %v", c.yaml, err)
		}
		w := cfg.Endpoints["sms"].SendWindow
		from, to := w.Bounds()
		if from != c.from || to != c.to || strings.Join(names(w.HeldLanes()), ",") != strings.Join(names(c.lanes), ",") {
			t.Errorf("%s: %v %v %v", c.yaml, from, to, w.HeldLanes())
		}
	}
	cfg, err := Parse([]byte(smsEndpoint), env(nil))
	if err != nil || cfg.Endpoints["sms"].SendWindow != nil {
		t.Fatalf("no send_window: %v %v", cfg.Endpoints["sms"].SendWindow, err)
	}
}

func names(ps []tasks.Priority) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

func TestSendWindowErrorsNameTheField(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{`{from: "8:00", to: "21:00"}`, `endpoints.sms.send_window.from: must be HH:MM from 00:00 to 23:59 (China Standard Time), got "8:00"`},
		{`{from: "08:00", to: "24:00"}`, `endpoints.sms.send_window.to: must be HH:MM`},
		{`{from: "08:00"}`, `endpoints.sms.send_window.to: must be HH:MM`},
		{`{from: "08:60", to: "09:00"}`, `endpoints.sms.send_window.from: must be HH:MM`},
		{`{from: "09:00", to: "09:00"}`, `endpoints.sms.send_window.to: equal to from (09:00)`},
		{`{from: "08:00", to: "21:00", lanes: []}`, `endpoints.sms.send_window.lanes: give at least one`},
		{`{from: "08:00", to: "21:00", lanes: [low, urgent]}`, `endpoints.sms.send_window.lanes[1]: must be high, default or low, got "urgent"`},
		{`{from: "08:00", to: "21:00", lanes: [""]}`, `endpoints.sms.send_window.lanes[0]: must be high, default or low, got ""`},
		{`{from: "08:00", to: "21:00", zone: UTC}`, `endpoints.sms.send_window.zone: unknown key "zone"`},
	}
	for _, c := range cases {
		_, err := Parse([]byte(smsEndpoint+"    send_window: "+c.yaml+"\n"), env(nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.yaml, err, c.want)
		}
	}
}
