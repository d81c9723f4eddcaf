package dashboards

import (
	"context"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/tasks"
)

// Names of the series the Collector reads from Redis at scrape time.
const (
	NameDeadLetterSize = "vendorq_dead_letter_size"
	NameQueueSize      = "vendorq_queue_size"
	NameRedisUp        = "vendorq_redis_up"
	// Per lane (docs/lanes.md): tasks waiting in the lane's queue, and how
	// long the oldest of them has waited.
	NameLanePending = "vendorq_lane_pending"
	NameLaneOldest  = "vendorq_lane_oldest_pending_seconds"
	// Handlers of every process holding a booked slot of the endpoint's
	// bucket, per lane (ratelimit.Bucket.Waiting).
	NameLaneInBucket = "vendorq_lane_in_bucket"
)

// BucketWaiting reads, for each of endpoints in order, how many handlers
// of each lane (high, default, low) wait in its shared bucket, in one
// round trip.
type BucketWaiting interface {
	LanesWaiting(ctx context.Context, endpoints []string) ([][3]int64, error)
}

// QueueStates are the asynq task states reported by vendorq_queue_size.
var QueueStates = []string{"pending", "active", "scheduled", "retry", "archived", "completed"}

// scrapeTimeout bounds the Redis reads of one scrape.
const scrapeTimeout = 5 * time.Second

// Collector reports, at every scrape, the dead-letter size of every endpoint
// (DeadLetterCounter.Counts), its queue size by state (all its lanes
// together) and per lane the pending tasks and the age of the oldest, read
// from asynq's keys in two round trips (lanestats.go). All
// live in Redis, so they are true for the whole fleet, not one process, and
// are read when asked rather than counted by each worker.
type Collector struct {
	store     DeadLetterCounter
	rdb       redis.UniversalClient // where asynq keeps the queues
	endpoints []string

	deadLetters *prometheus.Desc
	queueSize   *prometheus.Desc
	redisUp     *prometheus.Desc
	lanePending *prometheus.Desc
	laneOldest  *prometheus.Desc
	inBucket    *prometheus.Desc
	buckets     BucketWaiting // nil = not reported
}

// NewCollector reports on endpoints (the configured ones; endpoints found
// only in the dead-letter store are added at scrape time).
func NewCollector(store DeadLetterCounter, rdb redis.UniversalClient, endpoints []string) *Collector {
	return &Collector{
		store: store, rdb: rdb, endpoints: append([]string(nil), endpoints...),
		deadLetters: prometheus.NewDesc(NameDeadLetterSize, "Tasks in the dead-letter queue (durable, fleet-wide).", []string{"endpoint"}, nil),
		queueSize:   prometheus.NewDesc(NameQueueSize, "Tasks in the endpoint's asynq queue by state (fleet-wide).", []string{"endpoint", "state"}, nil),
		redisUp:     prometheus.NewDesc(NameRedisUp, "1 when the last scrape could read Redis, else 0.", nil, nil),
		lanePending: prometheus.NewDesc(NameLanePending, "Tasks waiting in the queue of the endpoint's lane (high, default, low; fleet-wide).", []string{"endpoint", "lane"}, nil),
		laneOldest:  prometheus.NewDesc(NameLaneOldest, "How long the oldest task waiting in the lane's queue has waited (0 = none).", []string{"endpoint", "lane"}, nil),
		inBucket:    prometheus.NewDesc(NameLaneInBucket, "Handlers of the lane, in every worker process, holding a booked slot of the endpoint's bucket (endpoints up to 100 calls/s).", []string{"endpoint", "lane"}, nil),
	}
}

// WithBuckets also reports vendorq_lane_in_bucket from b; it returns c.
func (c *Collector) WithBuckets(b BucketWaiting) *Collector {
	c.buckets = b
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.deadLetters
	ch <- c.queueSize
	ch <- c.redisUp
	ch <- c.lanePending
	ch <- c.laneOldest
	ch <- c.inBucket
}

// Collect implements prometheus.Collector. A Redis failure is reported as
// vendorq_redis_up 0 rather than failing the whole scrape, so that the
// in-process series (calls, latency) still reach Prometheus.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	up := 1.0
	eps := c.endpoints
	if extra, err := c.store.Endpoints(ctx); err == nil {
		eps = union(eps, extra)
	} else {
		up = 0
	}
	if n, err := c.store.Counts(ctx, eps); err == nil {
		for i, ep := range eps {
			ch <- prometheus.MustNewConstMetric(c.deadLetters, prometheus.GaugeValue, float64(n[i]), ep)
		}
	} else {
		up = 0
	}
	if !c.collectQueues(ctx, ch) {
		up = 0
	}
	if !c.collectBuckets(ctx, ch) {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.redisUp, prometheus.GaugeValue, up)
}

// collectQueues reports every configured endpoint's queue by state (its
// lane queues summed) and each lane's pending tasks and oldest wait; a
// queue asynq has never seen is reported empty. It returns false on a
// Redis error.
func (c *Collector) collectQueues(ctx context.Context, ch chan<- prometheus.Metric) bool {
	queues := make([]string, 0, len(c.endpoints)*len(tasks.Priorities))
	for _, ep := range c.endpoints {
		queues = append(queues, tasks.Queues(ep)...)
	}
	stats, err := readLanes(ctx, c.rdb, queues, time.Now())
	if err != nil {
		return false
	}
	for _, ep := range c.endpoints {
		var sizes laneSizes
		for _, p := range tasks.Priorities {
			st := stats[tasks.Queue(ep, p)]
			for j, n := range st.sizes {
				sizes[j] += n
			}
			ch <- prometheus.MustNewConstMetric(c.lanePending, prometheus.GaugeValue, float64(st.sizes[0]), ep, p.String())
			ch <- prometheus.MustNewConstMetric(c.laneOldest, prometheus.GaugeValue, st.oldest.Seconds(), ep, p.String())
		}
		for i, state := range QueueStates {
			ch <- prometheus.MustNewConstMetric(c.queueSize, prometheus.GaugeValue, float64(sizes[i]), ep, state)
		}
	}
	return true
}

// collectBuckets reports the handlers waiting in each endpoint's bucket
// per lane; it returns false on a Redis error.
func (c *Collector) collectBuckets(ctx context.Context, ch chan<- prometheus.Metric) bool {
	if c.buckets == nil {
		return true
	}
	n, err := c.buckets.LanesWaiting(ctx, c.endpoints)
	if err != nil {
		return false
	}
	for i, ep := range c.endpoints {
		for j, p := range tasks.Priorities {
			ch <- prometheus.MustNewConstMetric(c.inBucket, prometheus.GaugeValue, float64(n[i][j]), ep, p.String())
		}
	}
	return true
}

func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, s := range append(append([]string(nil), a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
