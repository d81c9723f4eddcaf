package worker

import (
	"slices"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/tasks"
)

// The config's send_window reaches the handler as it was written: bounds
// since 00:00 CST, lanes defaulted to [low]; no window stays none.
func TestSendWindowFromConfig(t *testing.T) {
	raw := "endpoints:\n  sms:\n    vendor: caihcom\n    appkey: a\n    app_id: b\n    auth_token: t\n    send_window: {from: \"22:00\", to: \"06:30\"}\n  forms:\n    vendor: baibaoyun\n    api_key: k\n"
	cfg, err := config.Parse([]byte(raw), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	w := sendWindow(cfg.Endpoints["sms"].SendWindow)
	if w == nil || w.From != 22*time.Hour || w.To != 6*time.Hour+30*time.Minute || !slices.Equal(w.Lanes, []tasks.Priority{tasks.PriorityLow}) {
		t.Fatalf("sms window %+v", w)
	}
	if w := sendWindow(cfg.Endpoints["forms"].SendWindow); w != nil {
		t.Fatalf("forms has no window, got %+v", w)
	}
}
