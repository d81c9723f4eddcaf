// Package workertest starts a worker for a test and shuts it down when the
// test ends: the setup every end-to-end test of the worker shares.
package workertest

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/worker"
)

// Start starts a worker of cfg with o on a Redis client of its own (conn
// names the Redis); an error fails tb. The worker is shut down, and the
// client closed, when the test ends.
func Start(tb testing.TB, cfg *config.Config, conn redisconn.Conn, o worker.Options) *worker.Worker {
	tb.Helper()
	rdb := conn.NewClient()
	tb.Cleanup(func() { _ = rdb.Close() })
	return StartOn(tb, cfg, conn, rdb, o)
}

// StartOn is Start on rdb, a client of conn's Redis the test also uses.
func StartOn(tb testing.TB, cfg *config.Config, conn redisconn.Conn, rdb redis.UniversalClient, o worker.Options) *worker.Worker {
	tb.Helper()
	w, err := worker.New(cfg, conn, rdb, o)
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(w.Shutdown)
	return w
}
