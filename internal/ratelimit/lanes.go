package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
)

// Lane is a caller's priority on the endpoint (docs/lanes.md): 0 is the
// highest. It is tasks.Priority.Rank(); this package names no task.
type Lane int

// The three lanes, highest first.
const (
	LaneHigh Lane = iota
	LaneDefault
	LaneLow
	numLanes
)

var laneNames = [numLanes]string{"high", "default", "low"}

func (l Lane) String() string {
	if l < 0 || l >= numLanes {
		return fmt.Sprintf("lane(%d)", int(l))
	}
	return laneNames[l]
}

// valid clamps an out-of-range lane to the default one.
func (l Lane) valid() Lane {
	if l < 0 || l >= numLanes {
		return LaneDefault
	}
	return l
}

// How lanes share one bucket (docs/lanes.md, "How the bucket keeps lanes"):
//
// Every caller books its slot as before (one GCRA reservation, then it
// sleeps until the slot), and its booking is also kept in its lane's sorted
// set (keys.Lane: member = the caller, score = the slot). A caller of a
// higher lane first looks for the earliest slot still to come that a lower
// lane booked: it takes that slot over (the set entry moves to its own
// lane) instead of booking one at the end of the line. The caller it took
// the slot from learns it when it wakes: the send-time check (guard) first
// removes its own entry, and finds none. It then books again, at the end of
// the line, within what is left of its horizon (else ErrTooLong: the task
// goes back to the queue, counting nothing).
//
// So a ready high task waits at most until the next slot that a lower lane
// holds, however many slots lower-lane handlers of every process have
// booked, and the number of calls per second is what GCRA booked: taking a
// slot over adds none. Nothing is polled: a caller of a lane with nothing
// to take over books as it always did, and the only extra work is inside
// the two scripts each call already runs (no extra round trip), so lanes
// cost nothing when unused.

// laneKeep is how long after its slot a booking that was never used (its
// process died, or it woke very late) stays in its lane's set. A caller
// that wakes later than this finds no entry and books again, as if its slot
// had been taken: never a call too many, only a slot lost.
const laneKeep = 10 * time.Second

// laneKeys returns the endpoint's three lane sets, highest first.
func laneKeys(endpoint string) []string {
	out := make([]string, numLanes)
	for i, n := range laneNames {
		out[i] = keys.Lane(endpoint, n)
	}
	return out
}

// tracksLanes says whether bookings are kept in the lane sets: only when
// the send-time guard runs (it is where a caller learns that its slot was
// taken). Above GuardMaxRate a caller waits at most the handlers ahead of
// it times a few ms, and lanes are only the order asynq dequeues in.
func (b *Bucket) tracksLanes() bool { return b.rate > 0 && b.rate <= b.tune.GuardMaxRate }

// newMember names one Wait call in the lane sets.
func newMember() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatUint(rand.Uint64(), 36)
}

// Waiting returns how many callers of each lane (highest first) hold a
// booked slot they have not used yet, fleet-wide: handlers sleeping in the
// bucket. Callers of an endpoint above GuardMaxRate are not counted.
func (b *Bucket) Waiting(ctx context.Context) ([3]int64, error) {
	out, err := WaitingOf(ctx, b.rdb, []*Bucket{b})
	if err != nil {
		return [3]int64{}, fmt.Errorf("ratelimit %s: %w", b.endpoint, err)
	}
	return out[0], nil
}

// WaitingOf returns Waiting of every bucket, in order, in one pipelined
// round trip on rdb, the Redis they all use (a metrics scrape over 1,000
// endpoints).
func WaitingOf(ctx context.Context, rdb redis.UniversalClient, bs []*Bucket) ([][3]int64, error) {
	out := make([][3]int64, len(bs))
	if len(bs) == 0 {
		return out, nil
	}
	pipe := rdb.Pipeline()
	now := strconv.FormatInt(time.Now().Add(-laneKeep).UnixMicro(), 10)
	cmds := make([][numLanes]*redis.IntCmd, len(bs))
	for i, b := range bs {
		for j, k := range b.lanes {
			cmds[i][j] = pipe.ZCount(ctx, k, now, "+inf")
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	for i := range bs {
		for j, c := range cmds[i] {
			out[i][j] = c.Val()
		}
	}
	return out, nil
}
