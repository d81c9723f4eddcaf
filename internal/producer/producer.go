// Package producer enqueues vendorq tasks with the checks a Go producer using
// package tasks alone cannot make: the endpoint exists in the config and
// speaks the task's type, the table has the vendor's form, and a key that
// already finished within the dedupe window is reported as a duplicate.
// The CLI, the batch import and the HTTP API all enqueue through it.
package producer

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// ErrRedis wraps every failure to reach Redis (exit code 3).
var ErrRedis = errors.New("redis")

// Result of one enqueue.
type Result struct {
	TaskID    string `json:"task_id"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// Producer enqueues onto the endpoints of one config.
type Producer struct {
	cfg    *config.Config
	client *asynq.Client
	rdb    redis.UniversalClient
	wake   *Waker // wakes the endpoint's idle workers (wake.go)
	fanOut int    // EnqueueBatch's enqueues in flight at once; 0 or 1 = one by one (bulk.go)
}

// New returns a producer; client and rdb must point at the same Redis.
func New(cfg *config.Config, client *asynq.Client, rdb redis.UniversalClient) *Producer {
	return &Producer{cfg: cfg, client: client, rdb: rdb, wake: NewWaker(rdb)}
}

// PrepareRecord validates p against the config and returns its task.
// opts are extra asynq options (asynq.ProcessAt for a delayed task: see
// Hold).
func (p *Producer) PrepareRecord(rc tasks.RecordCreate, opts ...asynq.Option) (*asynq.Task, error) {
	ep, err := p.endpoint(rc.Endpoint)
	if err != nil {
		return nil, err
	}
	if ep.Kind() == vendorclient.KindSMS {
		return nil, &tasks.FieldError{Field: "endpoint", Reason: fmt.Sprintf("%s is an SMS endpoint (%s); use sms", ep.Name, ep.Vendor)}
	}
	if err := tasks.ValidateTable(ep.Vendor, rc.Table); err != nil {
		return nil, err
	}
	return tasks.NewRecordCreateTask(rc, opts...)
}

// PrepareSMS validates s against the config and returns its task; opts
// as for PrepareRecord.
func (p *Producer) PrepareSMS(s tasks.SMSSend, opts ...asynq.Option) (*asynq.Task, error) {
	ep, err := p.endpoint(s.Endpoint)
	if err != nil {
		return nil, err
	}
	if ep.Kind() != vendorclient.KindSMS {
		return nil, &tasks.FieldError{Field: "endpoint", Reason: fmt.Sprintf("%s is a %s record endpoint; use record", ep.Name, ep.Vendor)}
	}
	return tasks.NewSMSSendTask(s, opts...)
}

// Endpoints names the configured endpoints, sorted.
func (p *Producer) Endpoints() []string { return p.cfg.EndpointNames() }

func (p *Producer) endpoint(name string) (*config.Endpoint, error) {
	ep, ok := p.cfg.Endpoints[name]
	if !ok || ep == nil {
		return nil, &tasks.FieldError{Field: "endpoint", Reason: fmt.Sprintf("unknown endpoint %q (configured: %v)", name, p.cfg.EndpointNames())}
	}
	return ep, nil
}

// Record validates and enqueues one record:create.
func (p *Producer) Record(ctx context.Context, rc tasks.RecordCreate, opts ...asynq.Option) (Result, error) {
	t, err := p.PrepareRecord(rc, opts...)
	if err != nil {
		return Result{}, err
	}
	return p.Enqueue(ctx, t, rc.Endpoint, rc.Key)
}

// SMS validates and enqueues one sms:send.
func (p *Producer) SMS(ctx context.Context, s tasks.SMSSend, opts ...asynq.Option) (Result, error) {
	t, err := p.PrepareSMS(s, opts...)
	if err != nil {
		return Result{}, err
	}
	return p.Enqueue(ctx, t, s.Endpoint, s.Key)
}

// Enqueue puts a prepared task on its lane's queue of endpoint. With a
// key, a task with the same key that is still queued or scheduled on any
// lane of the endpoint (asynq task ID, dedupe.go) or finished within the
// dedupe window (vendorq marker) makes it a duplicate, not an error.
func (p *Producer) Enqueue(ctx context.Context, t *asynq.Task, endpoint, key string) (Result, error) {
	res, _, err := p.EnqueueBatch(ctx, []Item{{Task: t, Endpoint: endpoint, Key: key}})
	return res[0], err
}

// enqueueChecked enqueues a task whose dedupe marker was already checked.
func (p *Producer) enqueueChecked(ctx context.Context, t *asynq.Task, id string) (Result, error) {
	info, err := p.client.EnqueueContext(ctx, t)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict), errors.Is(err, asynq.ErrDuplicateTask):
		return Result{TaskID: id, Duplicate: true}, nil
	case err != nil:
		return Result{}, fmt.Errorf("%w: enqueue: %w", ErrRedis, err)
	}
	_ = p.wake.WakeTask(ctx, info) // best effort: the workers' sweep covers a lost wake
	return Result{TaskID: info.ID}, nil
}

// Item is one task of a batch.
type Item struct {
	Task     *asynq.Task
	Endpoint string
	Key      string
}

// EnqueueBatch enqueues items, checking every dedupe marker in one pipelined
// round trip first; a bulk producer (bulk.go) then enqueues several at once.
// results[i] matches items[i]; err is a Redis failure, in which case results
// holds what was enqueued before it (done[i] reports which).
func (p *Producer) EnqueueBatch(ctx context.Context, items []Item) (results []Result, done []bool, err error) {
	results = make([]Result, len(items))
	done = make([]bool, len(items))
	pipe := p.rdb.Pipeline()
	cmds := make([]dupeCheck, len(items))
	ids := make([]string, len(items))
	split := splitKeys(p.rdb)
	for i, it := range items {
		if ids[i] = tasks.TaskID(it.Key); ids[i] != "" {
			cmds[i] = queueDupeChecks(ctx, pipe, it.Endpoint, ids[i], split)
		}
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return results, done, fmt.Errorf("%w: dedupe check: %w", ErrRedis, err)
		}
	}
	todo := make([]int, 0, len(items))
	for i := range items {
		if cmds[i].found() {
			results[i], done[i] = Result{TaskID: ids[i], Duplicate: true}, true
			continue
		}
		todo = append(todo, i)
	}
	return results, done, p.enqueueAll(ctx, items, todo, ids, results, done)
}
