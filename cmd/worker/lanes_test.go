package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
)

// entries records when each baibaoyun entry id first reached the
// simulator: the lanes tests give each task they follow its own entry id
// (table "app/<id>"), so that the URL says which task arrived.
type entries struct {
	mu    sync.Mutex
	first map[string]time.Time
	order []string
}

func (e *entries) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/app/app/entry/"); ok {
			id, _, _ := strings.Cut(rest, "/")
			e.mu.Lock()
			if _, seen := e.first[id]; !seen {
				e.first[id] = time.Now()
				e.order = append(e.order, id)
			}
			e.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (e *entries) at(id string) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.first[id]
	return t, ok
}

// newLaneRig is newRig (e2e_test.go) with the simulator also behind an
// entries recorder.
func newLaneRig(t testing.TB, over map[string]itest.Endpoint) (*rig, *entries, *asynq.Client) {
	t.Helper()
	ent := &entries{first: map[string]time.Time{}}
	r, cl := newRigBehind(t, vendorsim.DefaultConfig(), over, ent.wrap)
	return r, ent, cl
}

// enqueueLane enqueues one record:create task of lane p on forms whose
// entry id is id; it returns the time just before the enqueue.
func enqueueLane(t testing.TB, cl *asynq.Client, id string, p tasks.Priority) time.Time {
	t.Helper()
	task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "forms", Table: "app/" + id, Data: json.RawMessage(`{"id":"` + id + `"}`), Priority: p})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if _, err := cl.EnqueueContext(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	return at
}

// enqueueLow enqueues n low tasks (entry id "low") in batches.
func enqueueLow(t testing.TB, cl *asynq.Client, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "forms", Table: "app/low", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Priority: tasks.PriorityLow})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.EnqueueContext(context.Background(), task); err != nil {
			t.Fatal(err)
		}
	}
}

// Priority order across 3 worker processes (built binaries) on one 5/s
// endpoint: with every handler of every process already waiting in the
// bucket with a low task (30 of them, slots booked ~6 s ahead), 3 default
// and then 3 high tasks are enqueued at once. The high ones reach the
// vendor first, then the default ones, each well before the ~6 s the
// booked low slots would have made it wait; the rate still holds.
func TestLanesOrderAcrossThreeProcesses(t *testing.T) {
	t.Parallel()
	r, ent, cl := newLaneRig(t, map[string]itest.Endpoint{"forms": {Rate: 5, Concurrency: 10}})
	enqueueLow(t, cl, 150)
	for i := 0; i < 3; i++ {
		r.worker(t, fmt.Sprintf("w%d", i))
	}
	// Every handler busy: 30 in the bucket, 5+ calls made (3 s at 5/s).
	itest.Eventually(t, time.Minute, func() (bool, string) {
		st := r.sim.Stats()[vendorsim.TargetBaibaoyun]
		return st.Accepted >= 15, fmt.Sprintf("%d low calls so far", st.Accepted)
	})
	var enq = map[string]time.Time{}
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("default%d", i)
		enq[id] = enqueueLane(t, cl, id, tasks.PriorityDefault)
	}
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("high%d", i)
		enq[id] = enqueueLane(t, cl, id, tasks.PriorityHigh)
	}
	itest.Eventually(t, 30*time.Second, func() (bool, string) {
		n := 0
		for id := range enq {
			if _, ok := ent.at(id); ok {
				n++
			}
		}
		return n == len(enq), fmt.Sprintf("%d of %d lane tasks at the vendor", n, len(enq))
	})
	type arrival struct {
		id string
		d  time.Duration
	}
	var got []arrival
	for id, at := range enq {
		a, _ := ent.at(id)
		got = append(got, arrival{id, a.Sub(at)})
	}
	sort.Slice(got, func(i, j int) bool { return got[i].d < got[j].d })
	t.Logf("enqueue → vendor: %v", got)
	for i, a := range got {
		if want := "high"; i < 3 && !strings.HasPrefix(a.id, want) {
			t.Errorf("arrival #%d is %s (%v); the 3 high tasks must come first", i, a.id, a.d)
		}
		// Margin: a high task waits for a free handler (one frees per call,
		// every ~206 ms) and then for the next slot a low task booked
		// (≤ 206 ms): ~0.6 s for the third; 3 s leaves room for a loaded
		// machine and is half the ~6 s the booked low slots would cost.
		if a.d > 3*time.Second {
			t.Errorf("%s reached the vendor %v after its enqueue (booked low slots would give ~6s)", a.id, a.d)
		}
	}
	st := r.sim.Stats()[vendorsim.TargetBaibaoyun]
	if st.MaxInWindow > 5 || st.Codes["4004"] > 0 {
		t.Errorf("rate: %d calls in one second, %d throttled", st.MaxInWindow, st.Codes["4004"])
	}
}
