package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/enqueuecli"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/worker"
	"github.com/vendorq/vendorq/internal/workertest"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// Delayed tasks (enqueue --in/--at, README "Lanes and timing") end to end:
// the enqueue CLI, a real redis-server, real in-process workers and the
// simulator, whose arrival times are taken at its door.

// arrival is one request that reached the simulator.
type arrival struct {
	at   time.Time
	path string
	body []byte
}

// doorLog notes every request before the simulator answers it.
type doorLog struct {
	next http.Handler
	mu   sync.Mutex
	got  []arrival
}

func (d *doorLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !strings.HasPrefix(r.URL.Path, "/_sim/") {
		d.mu.Lock()
		d.got = append(d.got, arrival{at: at, path: r.URL.Path, body: body})
		d.mu.Unlock()
	}
	d.next.ServeHTTP(w, r)
}

func (d *doorLog) arrivals() []arrival {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]arrival(nil), d.got...)
}

// holdRig is a simulator behind a doorLog, a fresh database, and the
// config both as a file (for the CLI) and parsed (for the workers).
type holdRig struct {
	door    *doorLog
	sim     *vendorsim.Sim
	rurl    string
	cfgPath string
	cfg     *config.Config
	in      *asynq.Inspector
}

func newHoldRig(t *testing.T) *holdRig {
	t.Helper()
	sim := vendorsim.New(vendorsim.DefaultConfig())
	door := &doorLog{next: sim}
	hs := httptest.NewServer(door)
	t.Cleanup(hs.Close)
	rurl := srv.URL(srv.FreshDB(t))
	conn, err := redisconn.Parse(rurl)
	if err != nil {
		t.Fatal(err)
	}
	in := asynq.NewInspector(conn.Asynq)
	t.Cleanup(func() { _ = in.Close() })
	return &holdRig{
		door: door, sim: sim, rurl: rurl, in: in,
		cfgPath: itest.WriteConfig(t, t.TempDir(), rurl, hs.URL, nil),
		cfg:     itest.Config(t, rurl, hs.URL, nil),
	}
}

// worker starts one worker process's worth of servers (its own Redis
// connections); stop shuts it down (also done at cleanup).
func (r *holdRig) worker(t *testing.T) (stop func()) {
	t.Helper()
	conn, _ := redisconn.Parse(r.rurl)
	w := workertest.Start(t, r.cfg, conn, worker.Options{Log: testLog(t), PollInterval: 50 * time.Millisecond, ShutdownTimeout: 5 * time.Second})
	return w.Shutdown
}

// enqueue runs the enqueue CLI in process and returns the task ID it
// printed (stdout must be that one line).
func (r *holdRig) enqueue(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := enqueuecli.Main(ctx, append([]string{"--config", r.cfgPath}, args...), enqueuecli.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	if code != 0 || strings.Count(out.String(), "\n") != 1 || !strings.Contains(errb.String(), "scheduled: not before") {
		t.Fatalf("enqueue %v: exit %d stdout %q stderr %q", args, code, out.String(), errb.String())
	}
	return strings.TrimSpace(out.String())
}

// calls waits until the simulator got n calls on paths with prefix and
// returns them.
func (r *holdRig) calls(t *testing.T, prefix string, n int, timeout time.Duration) []arrival {
	t.Helper()
	var got []arrival
	itest.Eventually(t, timeout, func() (bool, string) {
		got = got[:0]
		for _, a := range r.door.arrivals() {
			if strings.HasPrefix(a.path, prefix) {
				got = append(got, a)
			}
		}
		return len(got) >= n, fmt.Sprintf("%d calls so far", len(got))
	})
	return got
}

// `enqueue sms --in 5s`: the gateway does not get the SMS before 5 s have
// passed, and gets it by 7 s. Margin, from the enqueue command's start:
// the hold is rounded up to a whole second (asynq keeps whole seconds:
// producer.Hold), then the worker starts the endpoint's server a second
// ahead (docs/idle.md) so that its 1 s forwarder moves the task at its
// second, then a 50 ms poll and a free 10/s bucket: 6.3 s expected at
// worst, 7 s asserted. The SMS's caihcom startTime is stamped when it is
// sent, not when it was enqueued (the gateway refuses a stale one).
func TestEnqueueInFiveSecondsArrivesBetweenFiveAndSeven(t *testing.T) {
	r := newHoldRig(t)
	r.worker(t)
	t0 := time.Now()
	id := r.enqueue(t, "sms", "--endpoint", "sms", "--phones", "13800000000", "--content", "您的验证码为：430237。", "--sign", "【X】", "--key", "in-5s", "--priority", "high", "--in", "5s")
	ti, err := r.in.GetTaskInfo("sms:high", id)
	if err != nil || ti.State != asynq.TaskStateScheduled {
		t.Fatalf("task %s on sms:high: %+v %v, want scheduled", id, ti, err)
	}
	got := r.calls(t, "/rest/sms/", 1, 15*time.Second)
	after := got[0].at.Sub(t0)
	t.Logf("arrived %v after the enqueue started", after.Round(time.Millisecond))
	if after < 5*time.Second || after > 7*time.Second {
		t.Fatalf("the SMS arrived %v after the enqueue started, want between 5s and 7s", after)
	}
	var req struct {
		Header struct {
			StartTime string `json:"startTime"`
		} `json:"header"`
	}
	if err := json.Unmarshal(got[0].body, &req); err != nil {
		t.Fatalf("caihcom body %s: %v", tasks.MaskPhones(string(got[0].body)), err)
	}
	stamp, err := time.ParseInLocation(vendorclient.CaihcomTimeLayout, req.Header.StartTime, time.FixedZone("CST", 8*3600))
	if err != nil {
		t.Fatal(err)
	}
	// startTime has whole seconds: it names the second of the send.
	if lo, hi := t0.Add(5*time.Second).Truncate(time.Second), got[0].at; stamp.Before(lo) || stamp.After(hi) {
		t.Fatalf("startTime %s (%v), want the send's second: between %v and %v", req.Header.StartTime, stamp, lo, hi)
	}
	itest.Eventually(t, 10*time.Second, func() (bool, string) { return itest.Drained(r.in, "sms:high") })
	if st := r.sim.Stats()[vendorsim.TargetCaihcom]; st.Accepted != 1 || st.Calls != 1 {
		t.Fatalf("caihcom stats %+v, want one call, accepted", st)
	}
}

// A task scheduled past a worker restart runs exactly once: the worker
// that saw it enqueued stops before its time, two others (two processes'
// worth of servers) start before it; the vendor gets one call, not before
// the time.
func TestScheduledTaskRunsOnceAcrossAWorkerRestart(t *testing.T) {
	r := newHoldRig(t)
	stopFirst := r.worker(t)
	t0 := time.Now()
	id := r.enqueue(t, "record", "--endpoint", "forms", "--table", "app1/entry1", "--data", `{"name":"Li"}`, "--key", "restart-1", "--in", "4s")
	stopFirst()
	if n := len(r.door.arrivals()); n != 0 {
		t.Fatalf("%d calls before the time", n)
	}
	ti, err := r.in.GetTaskInfo("forms", id)
	if err != nil || ti.State != asynq.TaskStateScheduled {
		t.Fatalf("after the first worker stopped: %+v %v, want still scheduled", ti, err)
	}
	if time.Since(t0) > 3*time.Second {
		t.Fatalf("the first worker took %v to stop: the test needs the others up before the 4 s hold", time.Since(t0))
	}
	r.worker(t)
	r.worker(t)
	got := r.calls(t, "/api/v1/app/", 1, 20*time.Second)
	if after := got[0].at.Sub(t0); after < 4*time.Second {
		t.Fatalf("called %v after the enqueue started, before the 4 s hold", after)
	}
	// Once the task is done (its done marker written, no queue holds it)
	// nothing can call the vendor again: the count is final.
	conn, _ := redisconn.Parse(r.rurl)
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })
	itest.Eventually(t, 10*time.Second, func() (bool, string) {
		n, err := rdb.Exists(context.Background(), keys.Dedupe("forms", id)).Result()
		if err != nil || n == 0 {
			return false, "no done marker yet"
		}
		return itest.Drained(r.in, "forms")
	})
	if n := len(r.door.arrivals()); n != 1 {
		t.Fatalf("the vendor got %d calls, want exactly 1", n)
	}
	if st := r.sim.Stats()[vendorsim.TargetBaibaoyun]; st.Accepted != 1 || st.Duplicates != 0 {
		t.Fatalf("baibaoyun stats %+v, want one accepted call", st)
	}
}
