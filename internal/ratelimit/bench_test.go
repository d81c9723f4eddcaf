package ratelimit

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// countHook counts commands sent to Redis (a pipeline or script counts once
// per command in it).
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// contend runs 30 waiters (3 processes × concurrency 10) that each take
// slots until total grants are made, and returns the grant times.
func contend(b *testing.B, total int, take func(ctx context.Context) error) []time.Time {
	var mu sync.Mutex
	var grants []time.Time
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for w := 0; w < 30; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				done := len(grants) >= total
				mu.Unlock()
				if done {
					return
				}
				if err := take(ctx); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				grants = append(grants, time.Now())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(grants, func(i, j int) bool { return grants[i].Before(grants[j]) })
	return grants
}

func maxInWindow(ts []time.Time, w time.Duration) int {
	best := 0
	j := 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// BenchmarkBucketVsRedisRate compares this package's reserving GCRA with
// github.com/go-redis/redis_rate (GCRA, allow-or-retry-after) used the usual
// way (call Allow, sleep RetryAfter, call again), at 50/s with 30 waiters,
// ours with its default tuning (3% spacing margin, send-time guard).
// Reported: Redis commands per granted call, achieved rate over the limit,
// and the most grants seen in any 1-second window (limit 50).
func BenchmarkBucketVsRedisRate(b *testing.B) {
	const rate, total = 50, 150
	for i := 0; i < b.N; i++ {
		db := srv.FreshDB(b)
		ours := &countHook{}
		c1 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: db})
		c1.AddHook(ours)
		bucket := New(c1, "bench", rate, 1, Tuning{})
		g1 := contend(b, total, func(ctx context.Context) error { _, err := bucket.Wait(ctx, LaneDefault, 10*time.Second); return err })
		_ = c1.Close()

		theirs := &countHook{}
		c2 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: db})
		c2.AddHook(theirs)
		lim := redis_rate.NewLimiter(c2)
		g2 := contend(b, total, func(ctx context.Context) error {
			for {
				res, err := lim.Allow(ctx, "bench2", redis_rate.Limit{Rate: rate, Burst: 1, Period: time.Second})
				if err != nil {
					return err
				}
				if res.Allowed > 0 {
					return nil
				}
				time.Sleep(res.RetryAfter)
			}
		})
		_ = c2.Close()

		span := func(g []time.Time) float64 { return g[len(g)-1].Sub(g[0]).Seconds() }
		b.ReportMetric(float64(ours.n.Load())/float64(len(g1)), "ours_cmds/grant")
		b.ReportMetric(float64(theirs.n.Load())/float64(len(g2)), "redis_rate_cmds/grant")
		b.ReportMetric(float64(len(g1)-1)/span(g1)/rate, "ours_utilisation")
		b.ReportMetric(float64(len(g2)-1)/span(g2)/rate, "redis_rate_utilisation")
		b.ReportMetric(float64(maxInWindow(g1, time.Second)), "ours_max_in_1s")
		b.ReportMetric(float64(maxInWindow(g2, time.Second)), "redis_rate_max_in_1s")
	}
}
