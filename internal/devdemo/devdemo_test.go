package devdemo_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/devdemo"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
)

func TestConfigHasOneEndpointPerVendorOnTheSimulator(t *testing.T) {
	cfg, err := devdemo.Config("http://127.0.0.1:9999", "redis://:p#ss w{rd}@127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.EndpointNames(); strings.Join(got, ",") != strings.Join(devdemo.Endpoints, ",") {
		t.Fatalf("endpoints %v, want %v", got, devdemo.Endpoints)
	}
	vendors := map[string]bool{}
	for name, ep := range cfg.Endpoints {
		vendors[ep.Vendor] = true
		if !strings.HasPrefix(ep.BaseURL, "http://127.0.0.1:9999") {
			t.Errorf("%s points at %s, not the simulator", name, ep.BaseURL)
		}
	}
	if len(vendors) != 4 {
		t.Errorf("vendors %v, want all four", vendors)
	}
	if ep := cfg.Endpoints[devdemo.EndpointForms]; ep.Vendor != "baibaoyun" || ep.Rate != 5 {
		t.Errorf("forms = %s at %v/s, want baibaoyun at 5/s (the backlog)", ep.Vendor, ep.Rate)
	}
	if cfg.Redis.URL != "redis://:p#ss w{rd}@127.0.0.1:1/0" {
		t.Errorf("redis url %q", cfg.Redis.URL)
	}
	sc := devdemo.SimConfig()
	if len(sc.Caihcom.BadPhones) != 1 || sc.Caihcom.BadPhones[0] != devdemo.BadPhone {
		t.Errorf("the simulator does not refuse BadPhone: %v", sc.Caihcom.BadPhones)
	}
}

// The generator fills every endpoint's queue, the dead-letter SMS included.
func TestRunEnqueuesOnEveryEndpoint(t *testing.T) {
	rs := redistest.MustStart(t, redistest.Options{})
	sim := vendorsim.New(devdemo.SimConfig())
	hs := httptest.NewServer(sim)
	defer hs.Close()
	cfg, err := devdemo.Config(hs.URL, rs.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := redisconn.Parse(cfg.Redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := conn.NewClient()
	defer rdb.Close()
	client := asynq.NewClient(conn.Asynq)
	defer client.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- devdemo.Run(ctx, devdemo.Options{Producer: producer.New(cfg, client, rdb), Sim: sim, Log: zerolog.Nop(), Tick: time.Millisecond})
	}()
	insp := asynq.NewInspector(conn.Asynq)
	defer insp.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for _, ep := range devdemo.Endpoints {
			qi, err := insp.GetQueueInfo(ep)
			if err != nil || qi.Pending == 0 {
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the generator did not put tasks on every endpoint within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
	// An SMS to BadPhone is among the tasks.
	pending, err := insp.ListPendingTasks(devdemo.EndpointSMS, asynq.PageSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ti := range pending {
		found = found || strings.Contains(string(ti.Payload), devdemo.BadPhone)
	}
	if !found {
		t.Error("no SMS to BadPhone was enqueued (the demo's dead letter)")
	}
}
