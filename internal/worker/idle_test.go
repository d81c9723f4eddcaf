package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/metrics"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/worker"
	"github.com/vendorq/vendorq/tasks"
)

// waitServer waits until ep's server runs (want) or not.
func waitServer(t *testing.T, w *worker.Worker, ep string, want bool, within time.Duration) {
	t.Helper()
	itest.Eventually(t, within, func() (bool, string) {
		r := w.Running()
		return slices.Contains(r, ep) == want, fmt.Sprintf("running %v, want %s running=%v", r, ep, want)
	})
}

// gaugeValue reads one gauge.
func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return -1
	}
	return m.GetGauge().GetValue()
}

func (e *env) accepted() int64 { return e.sim.Stats()[vendorsim.TargetDhgjcloud].Accepted }

func gjyEnv(t *testing.T) *env {
	sc := vendorsim.DefaultConfig()
	sc.Dhgjcloud.Rate = 1 << 30
	return newEnv(t, srv, sc, map[string]itest.Endpoint{"gjy": {Rate: 1000, Concurrency: 4}}, "forms", "tables", "sms")
}

// An idle endpoint's server is stopped after the grace and started again
// by a producer's wake. The sweep is paced to once an hour after the first
// one, so only the wake can have started it.
func TestIdleServerStoppedAndRestartedByWake(t *testing.T) {
	e := gjyEnv(t)
	w := e.startWorkerWith(t, worker.Options{IdleGrace: 600 * time.Millisecond, SweepMin: time.Hour})
	ctx := context.Background()
	rc := func(key string) tasks.RecordCreate {
		return tasks.RecordCreate{Endpoint: "gjy", Table: "/api/records", Data: json.RawMessage(`{"a":1}`), Key: key}
	}
	// Nothing queued: the first sweep finds nothing, no server starts.
	waitServer(t, w, "gjy", false, 5*time.Second)
	if _, err := e.prod.Record(ctx, rc("one")); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 10*time.Second, func() (bool, string) { return e.accepted() == 1, fmt.Sprintf("accepted %d", e.accepted()) })
	// Idle for the grace: stopped (idle tick 250 ms + grace 600 ms + Shutdown).
	waitServer(t, w, "gjy", false, 10*time.Second)
	itest.Eventually(t, 10*time.Second, func() (bool, string) {
		ss, err := e.in.Servers()
		return err == nil && len(ss) == 0, fmt.Sprintf("asynq still lists %d servers (%v)", len(ss), err)
	})
	// A wake (written by the producer's Record) starts it again. The
	// first wake was at least the grace ago, longer than WakeDebounce.
	if _, err := e.prod.Record(ctx, rc("two")); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 10*time.Second, func() (bool, string) { return e.accepted() == 2, fmt.Sprintf("accepted %d", e.accepted()) })
	if v := gaugeValue(w.Metrics.ServerRunning.WithLabelValues("gjy")); v != 1 {
		t.Errorf("%s{endpoint=gjy} = %v while it runs, want 1", metrics.NameServerRunning, v)
	}
	e.drained(t, "gjy", 10*time.Second)
	waitServer(t, w, "gjy", false, 10*time.Second)
	if v := gaugeValue(w.Metrics.ServerRunning.WithLabelValues("gjy")); v != 0 {
		t.Errorf("%s{endpoint=gjy} = %v once idle, want 0", metrics.NameServerRunning, v)
	}
}

// A task enqueued with a plain asynq client (no wake) is found by the
// sweep and run; the wake stream shows nobody announced it.
func TestPlainAsynqEnqueuePickedUpBySweep(t *testing.T) {
	e := gjyEnv(t)
	w := e.startWorkerWith(t, worker.Options{IdleGrace: 600 * time.Millisecond})
	waitServer(t, w, "gjy", false, 5*time.Second)
	task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "gjy", Table: "/api/records", Data: json.RawMessage(`{"plain":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClientFromRedisClient(e.rdb)
	if _, err := client.Enqueue(task, asynq.Queue(tasks.Queue("gjy", tasks.PriorityLow))); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 10*time.Second, func() (bool, string) { return e.accepted() == 1, fmt.Sprintf("accepted %d", e.accepted()) })
	if n, err := e.rdb.XLen(context.Background(), keys.Wake).Result(); err != nil || n != 0 {
		t.Fatalf("wake stream holds %d entries (%v): the test meant no wake", n, err)
	}
	waitServer(t, w, "gjy", false, 10*time.Second)
}

// A delayed task whose wake came while no server ran is run at its time
// by the local timer (the sweep is paced to once an hour), never before.
// Margin: asynq scores a scheduled task in whole seconds, so the task is
// due at a whole second; the server starts one second before it.
func TestDelayedTaskRunOnTimeAfterServerStopped(t *testing.T) {
	e := gjyEnv(t)
	w := e.startWorkerWith(t, worker.Options{IdleGrace: 600 * time.Millisecond, SweepMin: time.Hour})
	waitServer(t, w, "gjy", false, 5*time.Second)
	at := time.Now().Add(4 * time.Second).Truncate(time.Second)
	task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "gjy", Table: "/api/records", Data: json.RawMessage(`{"later":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	q := producer.NewWaker(e.rdb).WakingEnqueuer(asynq.NewClientFromRedisClient(e.rdb))
	if _, err := q.EnqueueContext(context.Background(), task, asynq.Queue("gjy"), asynq.ProcessAt(at)); err != nil {
		t.Fatal(err)
	}
	// No server until shortly before it is due.
	for time.Until(at) > 1500*time.Millisecond {
		if slices.Contains(w.Running(), "gjy") {
			t.Fatalf("server started %v before the task is due", time.Until(at))
		}
		time.Sleep(50 * time.Millisecond)
	}
	itest.Eventually(t, 15*time.Second, func() (bool, string) { return e.accepted() == 1, fmt.Sprintf("accepted %d", e.accepted()) })
	ran := time.Now()
	if ran.Before(at) {
		t.Fatalf("ran %v before its time", at.Sub(ran))
	}
	t.Logf("delayed task seen done %v after its time", ran.Sub(at))
	waitServer(t, w, "gjy", false, 10*time.Second)
}

// Redis restarted (AOF on) while the endpoint is idle: the wake reader
// reconnects by itself (its blocked XREAD fails, it starts over after the
// newest entry, with a sweep) and a wake starts the server again.
func TestWakeReaderSurvivesRedisRestart(t *testing.T) {
	aof := redistest.MustStart(t, redistest.Options{AOF: true})
	sc := vendorsim.DefaultConfig()
	sc.Dhgjcloud.Rate = 1 << 30
	e := newEnv(t, aof, sc, map[string]itest.Endpoint{"gjy": {Rate: 1000, Concurrency: 4}}, "forms", "tables", "sms")
	w := e.startWorkerWith(t, worker.Options{IdleGrace: 600 * time.Millisecond, SweepMin: time.Hour})
	ctx := context.Background()
	record := func(key string) {
		t.Helper()
		// Right after the restart go-redis may still hand out a dead
		// connection: retry within a bound.
		itest.Eventually(t, 10*time.Second, func() (bool, string) {
			_, err := e.prod.Record(ctx, tasks.RecordCreate{Endpoint: "gjy", Table: "/api/records", Data: json.RawMessage(`{"a":1}`), Key: key})
			return err == nil, fmt.Sprint(err)
		})
	}
	aof.Crash()
	if err := aof.Relaunch(); err != nil {
		t.Fatal(err)
	}
	record("after-restart-1")
	itest.Eventually(t, 20*time.Second, func() (bool, string) { return e.accepted() == 1, fmt.Sprintf("accepted %d", e.accepted()) })
	waitServer(t, w, "gjy", false, 10*time.Second)
	// The sweep runs once an hour: this one is the wake reader's.
	record("after-restart-2")
	itest.Eventually(t, 20*time.Second, func() (bool, string) { return e.accepted() == 2, fmt.Sprintf("accepted %d", e.accepted()) })
}
