package handlers

import (
	"context"

	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// recordPayload is a record:create payload for the prologue.
type recordPayload struct{ tasks.RecordCreate }

func (p *recordPayload) head() (string, string) { return p.Endpoint, p.Key }

func (p *recordPayload) validate(pol Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if pol.ValidateTable != nil {
		return pol.ValidateTable(p.Table)
	}
	return nil
}

func (r *run) record(ctx context.Context) error {
	var p recordPayload
	if ok, err := r.prologue(ctx, &p); !ok {
		return err
	}
	var res vendorclient.RecordResult
	took, refused, err := r.callUntilDone(ctx, func(ctx context.Context) (string, error) {
		var err error
		res, err = r.h.d.Records.CreateRecord(ctx, p.Table, p.Data)
		return res.Warning, err
	})
	switch {
	case err != nil:
		return err
	case refused != nil:
		return r.deadLetterRefusal(ctx, r.task.Payload(), refused)
	}
	r.finishWith(ctx, ending{vendorID: res.ID, warning: res.Warning})
	ev := r.log.Info()
	if res.Warning != "" {
		ev = r.log.Warn().Str("warning", res.Warning)
	}
	ev.Str("class", "ok").Str("record_id", res.ID).Dur("duration_ms", took).Int("attempt", r.attempt).Int("throttled", r.throttles).Msg("record created")
	return nil
}
