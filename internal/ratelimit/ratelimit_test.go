package ratelimit

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/redistest"
)

var srv *redistest.Server

func TestMain(m *testing.M) { redistest.Main(m, &srv) }

func newClient(t *testing.T, db int) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: db})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Three "processes" (separate clients and buckets) share one endpoint: the
// granted slots never put more than rate calls in any 1-second window.
func TestSharedBucketHoldsAcrossClients(t *testing.T) {
	db := srv.FreshDB(t)
	const rate, calls = 20.0, 50
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var grants []time.Time
	var wg sync.WaitGroup
	for p := 0; p < 3; p++ {
		b := New(newClient(t, db), "ep", rate, 1, Tuning{})
		for g := 0; g < 5; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					mu.Lock()
					if len(grants) >= calls {
						mu.Unlock()
						return
					}
					mu.Unlock()
					if _, err := b.Wait(ctx, LaneDefault, 10*time.Second); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					grants = append(grants, time.Now())
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	sort.Slice(grants, func(i, j int) bool { return grants[i].Before(grants[j]) })
	for i := range grants {
		j := i
		for j < len(grants) && grants[j].Sub(grants[i]) < time.Second {
			j++
		}
		if n := j - i; n > int(rate)+1 { // +1: the window is closed on both ends here
			t.Fatalf("%d grants within 1s starting at #%d (rate %v)", n, i, rate)
		}
	}
}

func TestHorizonAndPause(t *testing.T) {
	db := srv.FreshDB(t)
	ctx := context.Background()
	b := New(newClient(t, db), "ep", 1, 1, Tuning{})
	if _, err := b.Wait(ctx, LaneDefault, 0); err != nil {
		t.Fatalf("first slot is free: %v", err)
	}
	_, err := b.Wait(ctx, LaneDefault, 10*time.Millisecond)
	var we *WaitError
	if !errors.As(err, &we) || !errors.Is(err, ErrTooLong) || we.Delay < 500*time.Millisecond {
		t.Fatalf("second slot is ~1s away: %v", err)
	}
	if err := b.Pause(ctx, 5*time.Second, "4005"); err != nil {
		t.Fatal(err)
	}
	_, err = b.Wait(ctx, LaneDefault, time.Minute)
	if !errors.As(err, &we) || !errors.Is(err, ErrPaused) || we.Delay < 4*time.Second {
		t.Fatalf("paused: %v", err)
	}
	if d, _ := b.Paused(ctx); d < 4*time.Second {
		t.Fatalf("Paused() = %v", d)
	}
	// A shorter pause never shortens a longer one.
	if err := b.Pause(ctx, time.Second, "x"); err != nil {
		t.Fatal(err)
	}
	if d, _ := b.Paused(ctx); d < 4*time.Second {
		t.Fatalf("pause shortened to %v", d)
	}
}

func TestThrottleCutsDebouncesAndRecovers(t *testing.T) {
	db := srv.FreshDB(t)
	ctx := context.Background()
	tune := Tuning{Cut: 0.5, RecoverStep: 0.1, RecoverEvery: 500 * time.Millisecond, Debounce: time.Hour}
	b := New(newClient(t, db), "ep", 100, 1, tune)
	f, err := b.Throttled(ctx, 0)
	if err != nil || f != 0.5 {
		t.Fatalf("first cut: %v %v", f, err)
	}
	// Many refusals of one burst cut once (debounce).
	for i := 0; i < 5; i++ {
		if f, _ = b.Throttled(ctx, 0); f < 0.5 {
			t.Fatalf("debounce failed: factor %v", f)
		}
	}
	g, err := b.Wait(ctx, LaneDefault, time.Second)
	if err != nil || g.Factor < 0.5 || g.Factor >= 1 { // cut once (not 0.5^6), not yet recovered
		t.Fatalf("factor in force %v %v", g.Factor, err)
	}
	// Recovery is stepwise: poll until full rate (bounded).
	deadline := time.Now().Add(10 * time.Second)
	for g.Factor < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery, factor %v", g.Factor)
		}
		time.Sleep(50 * time.Millisecond)
		if g, err = b.Wait(ctx, LaneDefault, time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRetryAfterHoldsBucket(t *testing.T) {
	db := srv.FreshDB(t)
	ctx := context.Background()
	b := New(newClient(t, db), "ep", 1000, 1, Tuning{})
	if _, err := b.Throttled(ctx, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	_, err := b.Wait(ctx, LaneDefault, 100*time.Millisecond)
	var we *WaitError
	if !errors.As(err, &we) || we.Delay < 2*time.Second {
		t.Fatalf("Retry-After 3s must hold every slot: %v", err)
	}
}

func TestContextDeadlineBoundsWait(t *testing.T) {
	db := srv.FreshDB(t)
	b := New(newClient(t, db), "ep", 0.5, 1, Tuning{})
	if _, err := b.Wait(context.Background(), LaneDefault, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := b.Wait(ctx, LaneDefault, time.Minute); !errors.Is(err, ErrTooLong) {
		t.Fatalf("slot 2s away with 300ms left must not be booked: %v", err)
	}
}

// A burst the bucket allows (burst 10 at 5/s), like calls that woke late and
// left together, still never puts more than 5 sends in one second: the
// send-time guard holds the 6th until the window has room.
func TestGuardHoldsSlidingWindow(t *testing.T) {
	db := srv.FreshDB(t)
	b := New(newClient(t, db), "ep", 5, 10, Tuning{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	var sends []time.Time
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Wait(ctx, LaneDefault, 10*time.Second); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			sends = append(sends, time.Now())
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(sends, func(i, j int) bool { return sends[i].Before(sends[j]) })
	if len(sends) != 10 {
		t.Fatalf("%d sends", len(sends))
	}
	if d := sends[5].Sub(sends[0]); d < time.Second {
		t.Fatalf("6 sends within %v (vendor window 1s)", d)
	}
}

func TestGuardWindowForFractionalRates(t *testing.T) {
	for _, c := range []struct {
		rate  float64
		limit int
		w     time.Duration
	}{{5, 5, 1030 * time.Millisecond}, {2.5, 2, 824 * time.Millisecond}, {0.5, 1, 2060 * time.Millisecond}} {
		w, limit := New(nil, "ep", c.rate, 1, Tuning{}).window()
		if limit != c.limit || w != c.w {
			t.Errorf("rate %v: window %v limit %d, want %v %d", c.rate, w, limit, c.w, c.limit)
		}
	}
}

// A caller that booked its slot before a quota pause does not call during
// the pause: the send-time check sees it and hands back ErrPaused.
func TestPauseStopsCallersAlreadyWaiting(t *testing.T) {
	db := srv.FreshDB(t)
	ctx := context.Background()
	b := New(newClient(t, db), "ep", 0.5, 1, Tuning{})
	if _, err := b.Wait(ctx, LaneDefault, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := b.Wait(ctx, LaneDefault, 10*time.Second); done <- err }() // sleeps ~2s for its slot
	// Pause once its slot (2 s away) is booked, while it sleeps.
	start := time.Now()
	for {
		tat, err := b.rdb.Get(ctx, b.keys[0]).Int64()
		if err == nil && time.UnixMicro(tat).After(time.Now().Add(2500*time.Millisecond)) {
			break // the second slot is booked
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("second slot never booked")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := b.Pause(ctx, 10*time.Second, "8401"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var we *WaitError
		if !errors.As(err, &we) || !errors.Is(err, ErrPaused) || we.Delay < 5*time.Second {
			t.Fatalf("want ErrPaused with the pause left, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter never returned")
	}
}
