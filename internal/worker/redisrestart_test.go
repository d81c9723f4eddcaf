package worker_test

// Redis (AOF, appendfsync always) stopped for 3 s and started again while a
// worker runs 450 tasks: every task is done and no record or message reaches
// the vendor twice, including the tasks whose asynq acknowledgement was lost
// in the outage (asynq runs those again; the handler finds their done
// marker, handlers/bookkeeping.go).
//
// Time bounds. A lost acknowledgement leaves the task active until its
// lease (30 s from its last extension) has been expired for 30 s, and
// asynq's recoverer looks once a minute, counted from the server's start
// (asynq v0.26 recoverer.go; none of it is configurable): the task runs
// again 60–120 s after the loss, plus the retry delay (1 s ±50%) and the
// forwarder's 1 s. With the crash about 3 s after the start, the 120 s tick
// is the one, so everything is done about 125 s after the start; the drain
// deadline (4 min) leaves about two minutes of margin, one more recoverer
// tick. One run takes about 2 minutes: `make test` runs it once; repeat it
// with `go test -race -count=5 -run TestRedisRestartNoCallTwice ./internal/worker/`.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/worker"
	"github.com/vendorq/vendorq/tasks"
)

// stampedLog keeps every log line with the time it was written.
type stampedLog struct {
	mu    sync.Mutex
	lines []stampedLine
}

type stampedLine struct {
	at   time.Time
	text string
}

func (l *stampedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, stampedLine{time.Now(), string(p)})
	return len(p), nil
}

// matching returns the lines containing s.
func (l *stampedLog) matching(s string) []stampedLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []stampedLine
	for _, ln := range l.lines {
		if strings.Contains(ln.text, s) {
			out = append(out, ln)
		}
	}
	return out
}

func TestRedisRestartNoCallTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq's recoverer (about 2 minutes)")
	}
	const keyed, unkeyed, sms = 200, 150, 100
	aof := redistest.MustStart(t, redistest.Options{AOF: true})
	sc := vendorsim.DefaultConfig()
	sc.Dhgjcloud.Rate = 1 << 30
	e := newEnv(t, aof, sc, map[string]itest.Endpoint{
		"gjy": {Rate: 400, Concurrency: 16},
		"sms": {Rate: 200, Concurrency: 8},
	}, "forms", "tables")
	ctx := context.Background()

	// Keyed records (producers' dedupe markers), unkeyed records (random
	// ids, 24 h markers) and unkeyed one-phone SMS (per-phone markers too).
	e.enqueueMany(t, "gjy", "/api/records", "k", keyed)
	var items []producer.Item
	for i := range unkeyed {
		task, err := e.prod.PrepareRecord(tasks.RecordCreate{Endpoint: "gjy", Table: "/api/records", Data: json.RawMessage(fmt.Sprintf(`{"u":%d}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, producer.Item{Task: task, Endpoint: "gjy"})
	}
	for i := range sms {
		task, err := e.prod.PrepareSMS(tasks.SMSSend{Endpoint: "sms", Phones: []string{fmt.Sprintf("1390000%04d", i)}, Content: "您的验证码为：430237。", Sign: "【测试】"})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, producer.Item{Task: task, Endpoint: "sms"})
	}
	if _, _, err := e.prod.EnqueueBatch(ctx, items); err != nil {
		t.Fatal(err)
	}

	logs := &stampedLog{}
	conn, _ := redisconn.Parse(e.rurl)
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })
	w, err := worker.New(e.cfg, conn, rdb, worker.Options{
		Log: zerolog.New(logs).Level(zerolog.InfoLevel), PollInterval: 50 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		ThrottleInitial: 5 * time.Millisecond, ThrottleMax: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)

	accepted := func() int64 {
		st := e.sim.Stats()
		return st[vendorsim.TargetDhgjcloud].Accepted + st[vendorsim.TargetCaihcom].Accepted
	}
	itest.Eventually(t, time.Minute, func() (bool, string) {
		a := accepted()
		return a >= 100, fmt.Sprintf("accepted %d", a)
	})
	atCrash := accepted()
	aof.Crash()
	time.Sleep(3 * time.Second) // the outage itself
	if err := aof.Relaunch(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()

	itest.Eventually(t, 4*time.Minute, func() (bool, string) {
		g, why := itest.Drained(e.in, "gjy")
		s, why2 := itest.Drained(e.in, "sms")
		return g && s, why + "; " + why2
	})
	drained := time.Now()

	st := e.sim.Stats()
	rec, msg := st[vendorsim.TargetDhgjcloud], st[vendorsim.TargetCaihcom]
	if len(rec.ByKey) != keyed+unkeyed || rec.Duplicates != 0 {
		t.Errorf("records: %d distinct of %d, %d created twice", len(rec.ByKey), keyed+unkeyed, rec.Duplicates)
	}
	if len(msg.ByKey) != sms || msg.Duplicates != 0 {
		t.Errorf("sms: %d distinct of %d, %d sent twice", len(msg.ByKey), sms, msg.Duplicates)
	}
	for _, ep := range []string{"gjy", "sms"} {
		if c, _ := e.dlq.Count(ctx, ep); c != 0 {
			t.Errorf("%s: %d dead letters", ep, c)
		}
	}
	// asynq's own warnings: a success's acknowledgement, and a hand-back or
	// retry (our waits, failures), that Redis did not take.
	lost := len(logs.matching("Could not remove task"))
	lostBack := len(logs.matching("Could not move task"))
	again := logs.matching("already done; not calling the vendor again")
	// Each lost acknowledgement is normally a task asynq runs again, which
	// must find its marker (one that called would be a duplicate above). The
	// counts may differ by a Done that Redis applied but whose reply the
	// crash cut: that task is not run again.
	last := back
	for _, ln := range again {
		if ln.at.After(last) {
			last = ln.at
		}
	}
	t.Logf("%d tasks, %d accepted before the crash (%.1fs after start); lost acknowledgements: %d of successes, %d of hand-backs; %d re-runs found their marker, the last %.1fs after Redis returned; all drained %.1fs after Redis returned (%.1fs after start); vendor: %d record calls accepted, %d SMS",
		keyed+unkeyed+sms, atCrash, back.Sub(started).Seconds()-3, lost, lostBack, len(again), last.Sub(back).Seconds(),
		drained.Sub(back).Seconds(), drained.Sub(started).Seconds(), rec.Accepted, msg.Accepted)
}
