package worker

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/clock"
	"github.com/vendorq/vendorq/internal/keys"
)

// The wake reader follows the keys.Wake stream that producers append to
// (internal/producer/wake.go) with XREAD BLOCK on a client of its own:
// a blocked XREAD costs Redis one command per wakeBlock while nothing
// happens, and every worker process sees every wake (several processes
// share an endpoint's rate, so each must start its server).
const (
	wakeBlock   = 10 * time.Second // one XREAD per this long when idle
	wakeBatch   = 1000             // entries per XREAD
	wakeBackoff = time.Second      // between attempts while Redis is down
)

// wake is one entry of the stream; resync (no endpoint) says wakes may
// have been missed (start, Redis trouble): sweep everything now.
type wake struct {
	endpoint string
	at       time.Time
	resync   bool
}

// readWakes sends the stream's entries to out until ctx ends. The client
// is its own: closing it is what interrupts a blocked XREAD (go-redis does
// not watch the context while blocked).
func readWakes(ctx context.Context, c redis.UniversalClient, out chan<- wake, log zerolog.Logger) {
	send := func(w wake) bool {
		select {
		case out <- w:
			return true
		case <-ctx.Done():
			return false
		}
	}
	pause := func() bool { return clock.Sleep(ctx, wakeBackoff) == nil }
	last := ""
	for ctx.Err() == nil {
		if last == "" {
			// Start after the newest entry; what came before is the
			// sweep's (resync), so nothing written from here on is missed.
			id, err := lastWakeID(ctx, c)
			if err != nil {
				if ctx.Err() == nil {
					log.Debug().Err(err).Msg("wake stream: cannot read; sweeping instead")
				}
				if !pause() {
					return
				}
				continue
			}
			last = id
			if !send(wake{resync: true}) {
				return
			}
		}
		res, err := c.XRead(ctx, &redis.XReadArgs{Streams: []string{keys.Wake, last}, Count: wakeBatch, Block: wakeBlock}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			log.Debug().Err(err).Msg("wake stream: read failed; sweeping instead")
			last = "" // the stream may be gone (Redis restarted): start over
			if !pause() {
				return
			}
			continue
		}
		for _, s := range res {
			for _, m := range s.Messages {
				last = m.ID
				if w, ok := parseWake(m.Values); ok && !send(w) {
					return
				}
			}
		}
	}
}

// lastWakeID is the newest entry's ID ("0-0" for an empty stream).
func lastWakeID(ctx context.Context, c redis.UniversalClient) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	msgs, err := c.XRevRangeN(cctx, keys.Wake, "+", "-", 1).Result()
	if err != nil {
		return "", err
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// parseWake reads an entry's fields ep and at (Unix ms; 0 or missing = now).
func parseWake(v map[string]any) (wake, bool) {
	ep, _ := v["ep"].(string)
	if ep == "" {
		return wake{}, false
	}
	w := wake{endpoint: ep}
	if s, _ := v["at"].(string); s != "" {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 {
			w.at = time.UnixMilli(ms)
		}
	}
	return w, true
}
