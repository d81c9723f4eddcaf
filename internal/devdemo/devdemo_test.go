package devdemo_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/devdemo"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
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
	d := newDemo(t)
	sim, cfg, conn, rdb, client := d.sim, d.cfg, d.conn, d.rdb, d.client
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
			qi, err := insp.GetQueueInfo(demoQueue(ep))
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
	pending, err := insp.ListPendingTasks(demoQueue(devdemo.EndpointSMS), asynq.PageSize(1000))
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

// OnFirstBurst runs once, after the first forms burst (40 tasks) and before
// the second: forms then holds exactly the first burst.
func TestOnFirstBurstRunsOnceBetweenTheFirstTwoBursts(t *testing.T) {
	d := newDemo(t)
	sim, cfg, conn, rdb, client := d.sim, d.cfg, d.conn, d.rdb, d.client
	insp := asynq.NewInspector(conn.Asynq)
	defer insp.Close()
	calls := make(chan int, 4) // forms tasks at each call
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- devdemo.Run(ctx, devdemo.Options{
			Producer: producer.New(cfg, client, rdb), Sim: sim, Log: zerolog.Nop(), Tick: time.Millisecond,
			OnFirstBurst: func() {
				qi, err := insp.GetQueueInfo(devdemo.EndpointForms)
				if err != nil {
					calls <- -1
					return
				}
				calls <- qi.Size
			},
		})
	}()
	select {
	case n := <-calls:
		if n != 40 {
			t.Errorf("OnFirstBurst ran with %d forms tasks queued, want the first burst's 40", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("OnFirstBurst did not run within 30s (at 1ms ticks it is due after 40)")
	}
	// Well past the third burst (tick 80): no second call.
	deadline := time.Now().Add(30 * time.Second)
	for {
		qi, err := insp.GetQueueInfo(devdemo.EndpointForms)
		if err == nil && qi.Size > 120 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the generator did not reach its fourth burst within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if len(calls) != 0 {
		t.Errorf("OnFirstBurst ran %d more times", len(calls))
	}
}

// demo is the demo config on a throwaway redis-server against the
// simulator, with clients on it; all close when the test ends.
type demo struct {
	sim    *vendorsim.Sim
	cfg    *config.Config
	conn   redisconn.Conn
	rdb    redis.UniversalClient
	client *asynq.Client
}

func newDemo(t *testing.T) demo {
	t.Helper()
	rs := redistest.MustStart(t, redistest.Options{})
	sim := vendorsim.New(devdemo.SimConfig())
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	cfg, err := devdemo.Config(hs.URL, rs.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := redisconn.Parse(cfg.Redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })
	client := asynq.NewClient(conn.Asynq)
	t.Cleanup(func() { _ = client.Close() })
	return demo{sim: sim, cfg: cfg, conn: conn, rdb: rdb, client: client}
}

// demoQueue is the queue the demo fills on ep: its one-time codes go on
// the SMS endpoint's high lane, the records on the default one.
func demoQueue(ep string) string {
	if ep == devdemo.EndpointSMS {
		return tasks.Queue(ep, tasks.PriorityHigh)
	}
	return ep
}
