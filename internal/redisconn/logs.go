package redisconn

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// RouteLogs sends go-redis's own log lines (one per failed dial while Redis
// is down) to l at debug level instead of stderr, so that an outage shows in
// the structured log as the commands' errors rather than as a flood of
// unstructured lines. go-redis's logger is process-wide.
func RouteLogs(l zerolog.Logger) {
	redis.SetLogger(logger{l.With().Str("component", "go-redis").Logger()})
}

type logger struct{ l zerolog.Logger }

func (r logger) Printf(_ context.Context, format string, v ...any) {
	r.l.Debug().Msg(fmt.Sprintf(format, v...))
}
