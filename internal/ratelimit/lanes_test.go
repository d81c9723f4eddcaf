package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// grant is one granted Wait: who and when.
type grant struct {
	who  string
	lane Lane
	at   time.Time
	g    Grant
}

// waiters starts n callers of lane on b, each taking one slot, and returns
// a channel of their grants (closed when all are done).
func waiters(ctx context.Context, t *testing.T, b *Bucket, lane Lane, who string, n int, horizon time.Duration, wg *sync.WaitGroup, out chan<- grant) {
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := b.Wait(ctx, lane, horizon)
			if err != nil {
				t.Errorf("%s: %v", who, err)
				return
			}
			out <- grant{who: who, lane: lane, at: time.Now(), g: g}
		}()
	}
}

// waitBooked polls until n slots of lane are booked on ep (bounded).
func waitBooked(t *testing.T, b *Bucket, lane Lane, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w, err := b.Waiting(context.Background())
		if err == nil && w[lane] >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s slots never booked (waiting %v, %v)", n, lane, w, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Three "processes" (own clients and buckets) have booked 12 low slots, up
// to 6 s ahead at 2/s; then a default and a high caller arrive, on two of
// them. The high one is granted first, the default one next, both before
// every low slot that was still to come: each takes over the earliest slot
// a lower lane booked. The low callers whose slots were taken book again at
// the end, and the 14 grants still keep the rate.
func TestHigherLaneTakesOverBookedSlotsAcrossProcesses(t *testing.T) {
	db := srv.FreshDB(t)
	const rate = 2.0 // 515 ms apart: no booked low slot comes while the test sets up
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var procs []*Bucket
	for p := 0; p < 3; p++ {
		procs = append(procs, New(newClient(t, db), "ep", rate, 1, Tuning{}))
	}
	if _, err := procs[0].Wait(ctx, LaneLow, 0); err != nil { // the slot now: every low below books ahead
		t.Fatal(err)
	}
	out := make(chan grant, 20)
	var wg sync.WaitGroup
	for p, b := range procs {
		waiters(ctx, t, b, LaneLow, "low", 4, 10*time.Second, &wg, out)
		waitBooked(t, b, LaneLow, int64(4*(p+1)))
	}
	waiters(ctx, t, procs[1], LaneDefault, "default", 1, 10*time.Second, &wg, out)
	waitBooked(t, procs[1], LaneDefault, 1)
	arrived := time.Now()
	waiters(ctx, t, procs[2], LaneHigh, "high", 1, 10*time.Second, &wg, out)
	wg.Wait()
	close(out)
	var gs []grant
	for g := range out {
		gs = append(gs, g)
	}
	if len(gs) != 14 {
		t.Fatalf("%d grants", len(gs))
	}
	var high, def grant
	taken := 0
	for _, g := range gs {
		switch g.lane {
		case LaneHigh:
			high = g
		case LaneDefault:
			def = g
		default:
			taken += g.g.TakenOver
		}
	}
	// Margin: the next low slot is at most one interval (515 ms) away when
	// the high caller arrives; 1 s leaves ~500 ms for a loaded machine,
	// against the 6 s it would wait at the end of the line.
	if d := high.at.Sub(arrived); d > time.Second || !high.g.TookOver {
		t.Errorf("high granted %v after it arrived (took over: %v); the next booked slot was ≤515ms away", d, high.g.TookOver)
	}
	if !def.at.After(high.at) || !def.g.TookOver {
		t.Errorf("default granted at %v, high at %v (default took over: %v)", def.at, high.at, def.g.TookOver)
	}
	lowAfter := 0
	for _, g := range gs {
		if g.lane == LaneLow && g.at.After(def.at) {
			lowAfter++
		}
	}
	if lowAfter < 8 {
		t.Errorf("only %d low grants after the default one; the default took over an early low slot", lowAfter)
	}
	if taken != 2 {
		t.Errorf("low callers booked again %d times, want 2 (one slot taken by each higher caller)", taken)
	}
	assertRate(t, gs, rate)
}

// assertRate fails when the grants put more than rate+1 in any 1-second
// window (+1: the window is closed on both ends here).
func assertRate(t *testing.T, gs []grant, rate float64) {
	t.Helper()
	ts := make([]time.Time, len(gs))
	for i, g := range gs {
		ts[i] = g.at
	}
	sortTimes(ts)
	if n := maxInWindow(ts, time.Second); n > int(rate)+1 {
		t.Errorf("%d grants within 1s (rate %v)", n, rate)
	}
}

// A low caller whose slot was taken and whose horizon has no room for a
// new one gets ErrTooLong (its task goes back to the queue, counting no
// failure), not a call.
func TestTakenOverCallerBeyondHorizonGetsTooLong(t *testing.T) {
	db := srv.FreshDB(t)
	ctx := context.Background()
	b := New(newClient(t, db), "ep", 2, 1, Tuning{})
	if _, err := b.Wait(ctx, LaneLow, 0); err != nil { // slot now
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := b.Wait(ctx, LaneLow, 700*time.Millisecond); done <- err }() // slot ~515ms away
	waitBooked(t, b, LaneLow, 1)
	g, err := b.Wait(ctx, LaneHigh, 0)
	var we *WaitError
	if !errors.As(err, &we) || !errors.Is(err, ErrTooLong) {
		t.Fatalf("high with horizon 0 and the next slot ~0.5s away: %v %+v", err, g)
	}
	g, err = b.Wait(ctx, LaneHigh, time.Second)
	if err != nil || !g.TookOver {
		t.Fatalf("high takes the low slot: %+v %v", g, err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrTooLong) {
			t.Fatalf("low whose slot was taken, with no room left: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("low caller never returned")
	}
}

// Without other lanes (only default callers) nothing changes for the
// callers: no slot is ever taken over, and once every caller has gone no
// booking is left in any lane set.
func TestOneLaneNoTakeOverNothingLeft(t *testing.T) {
	db := srv.FreshDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := New(newClient(t, db), "ep", 20, 1, Tuning{})
	out := make(chan grant, 30)
	var wg sync.WaitGroup
	waiters(ctx, t, b, LaneDefault, "d", 30, 10*time.Second, &wg, out)
	wg.Wait()
	close(out)
	var gs []grant
	for g := range out {
		if g.g.TookOver || g.g.TakenOver != 0 {
			t.Errorf("one lane: %+v", g.g)
		}
		gs = append(gs, g)
	}
	assertRate(t, gs, 20)
	w, err := b.Waiting(ctx)
	if err != nil || w != [3]int64{} {
		t.Fatalf("bookings left: %v %v", w, err)
	}
}

// Above GuardMaxRate no booking is kept (no send-time check to learn of a
// take-over): the lane sets stay empty.
func TestFastEndpointTracksNoLanes(t *testing.T) {
	db := srv.FreshDB(t)
	ctx := context.Background()
	b := New(newClient(t, db), "ep", 1000, 1, Tuning{})
	for i := 0; i < 5; i++ {
		if _, err := b.Wait(ctx, LaneLow, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range b.lanes {
		if n, err := b.rdb.Exists(ctx, k).Result(); err != nil || n != 0 {
			t.Fatalf("%s exists (%d, %v)", k, n, err)
		}
	}
}

func sortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// WaitingOf reads several endpoints' bookings in one round trip, each the
// same as its own Waiting: two endpoints, one with 3 low callers booked
// ahead, the other with none. (Margin: at 1/s the last two slots are 1 s
// and 2 s ahead, so two bookings stand for a second while the test reads.)
func TestWaitingOfReadsEachEndpoint(t *testing.T) {
	db := srv.FreshDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rdb := newClient(t, db)
	busy, quiet := New(rdb, "busy", 1, 1, Tuning{}), New(rdb, "quiet", 1, 1, Tuning{})
	out := make(chan grant, 3)
	var wg sync.WaitGroup
	waiters(ctx, t, busy, LaneLow, "l", 3, 10*time.Second, &wg, out)
	waitBooked(t, busy, LaneLow, 2) // the first caller is granted at once; two wait for later slots
	got, err := WaitingOf(ctx, rdb, []*Bucket{quiet, busy})
	if err != nil {
		t.Fatal(err)
	}
	own, err := busy.Waiting(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != [3]int64{} || got[1][LaneLow] < 2 || got[1] != own {
		t.Fatalf("WaitingOf = %v, busy.Waiting = %v: want quiet empty and busy's own figures", got, own)
	}
	wg.Wait()
}
