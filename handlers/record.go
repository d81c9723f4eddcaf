package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vendorq/vendorq/tasks"
)

func (r *run) record(ctx context.Context) error {
	var p tasks.RecordCreate
	if err := json.Unmarshal(r.task.Payload(), &p); err != nil {
		return r.deadLetter(ctx, r.task.Payload(), "bad_payload", fmt.Errorf("payload is not a record:create JSON object: %w", err), "permanent")
	}
	r.keyed = p.Key != ""
	if err := p.Validate(); err != nil {
		return r.deadLetter(ctx, r.task.Payload(), "bad_payload", err, "permanent")
	}
	if err := tasks.ValidateTable(r.h.vendor, p.Table); err != nil {
		return r.deadLetter(ctx, r.task.Payload(), "bad_payload", err, "permanent")
	}
	if p.Endpoint != r.h.ep {
		return r.deadLetter(ctx, r.task.Payload(), "wrong_endpoint", fmt.Errorf("payload endpoint %q on queue %q", p.Endpoint, r.h.ep), "permanent")
	}
	for {
		if err := r.acquire(ctx); err != nil {
			return err
		}
		start := time.Now()
		r.attempt++
		res, err := r.h.d.Records.CreateRecord(ctx, p.Table, p.Data)
		took := time.Since(start)
		if err == nil {
			r.observe("ok", okCode(res.Warning), took)
			r.finish(ctx)
			ev := r.log.Info()
			if res.Warning != "" {
				ev = r.log.Warn().Str("warning", res.Warning)
			}
			ev.Str("class", "ok").Str("record_id", res.ID).Dur("duration_ms", took).Int("attempt", r.attempt).Int("throttled", r.throttles).Msg("record created")
			return nil
		}
		r.noteFailure(ctx, start)
		r.observe(classOf(err), codeOf(err), took)
		out, rerr := r.classify(ctx, err, r.task.Payload())
		if out == outAgain {
			continue
		}
		return rerr
	}
}

func okCode(warning string) string {
	if warning != "" {
		return "ok_with_warning"
	}
	return "ok"
}
