package workercli

import (
	"context"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/internal/batch"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/taskstate"
)

// newBatch starts the batch of an HTTP batch request (its tasks may go to
// several endpoints), kept for results.retention.
func newBatch(cfg *config.Config, rdb redis.UniversalClient) func(context.Context) (*batch.Tracker, error) {
	return func(ctx context.Context) (*batch.Tracker, error) {
		return batch.Start(ctx, rdb, batch.Meta{Source: "api"}, cfg.Results.Retention)
	}
}

// taskLookup answers the API's GET /v1/tasks/{id} from every endpoint of cfg.
func taskLookup(cfg *config.Config, rdb redis.UniversalClient) api.Lookup {
	src := taskstate.Source{Redis: rdb, Inspector: asynq.NewInspectorFromRedisClient(rdb)}
	eps := cfg.EndpointNames()
	return func(ctx context.Context, id string) (taskstate.Info, error) {
		return taskstate.Lookup(ctx, src, eps, id)
	}
}
