package devdemo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
)

// Options of the generator.
type Options struct {
	Producer *producer.Producer
	Sim      *vendorsim.Sim // faults are injected here
	Log      zerolog.Logger
	// Tick is the generator's heartbeat (default 250ms); every rate and
	// period below is a number of ticks.
	Tick time.Duration
	// RunID makes this run's idempotency keys unique, so that a second
	// `worker --dev --redis URL` on the same Redis is not all duplicates.
	// Default: the start time.
	RunID string
	// OnFirstBurst, when set, runs once (on Run's goroutine) when the first
	// forms burst has had its period: formsBurstEvery ticks (10s) after it
	// was enqueued, by when it has drained (~8s at 5/s) and its log lines
	// are out, just before the second burst. worker --dev prints its banner
	// again there, so that the links do not scroll away.
	OnFirstBurst func()
}

// Schedule, in ticks of 250ms.
const (
	formsBurstEvery = 40  // 10s: a burst of formsBurst records on the 5/s endpoint
	formsBurst      = 40  // …which drains in ~8s: a backlog is visible most of the time
	throttleEvery   = 80  // 20s: the next vendor answers "too fast" a few times
	badSMSEvery     = 240 // 60s: an SMS with a refused phone (dead letter)
	badSMSAt        = 4
	badRecordEvery  = 360 // 90s: a record the vendor refuses permanently (dead letter)
	badRecordAt     = 20
	quotaEvery      = 480 // 120s: the SMS account is out of credit once (quota pause)
	quotaAt         = 120
)

// throttles rotate over the vendors: each is the vendor's own "too fast".
var throttles = []struct {
	target string
	fault  vendorsim.Fault
}{
	{vendorsim.TargetBaibaoyun, vendorsim.Fault{Code: "4004", Times: 3}},
	{vendorsim.TargetYesapi, vendorsim.Fault{Code: "414", Times: 2}},
	{vendorsim.TargetDhgjcloud, vendorsim.Fault{Code: "http_429", Times: 2}},
}

// Run enqueues demo tasks until ctx ends; it returns ctx's error.
func Run(ctx context.Context, o Options) error {
	if o.Tick <= 0 {
		o.Tick = 250 * time.Millisecond
	}
	if o.RunID == "" {
		o.RunID = time.Now().Format("150405")
	}
	g := &gen{o: o}
	o.Log.Info().Msg("demo: tasks flowing on every endpoint; a burst every 10s builds a backlog on forms (5/s)")
	t := time.NewTicker(o.Tick)
	defer t.Stop()
	for n := 0; ; n++ {
		if n == formsBurstEvery && o.OnFirstBurst != nil {
			o.OnFirstBurst()
		}
		g.tick(ctx, n)
		select {
		case <-ctx.Done():
			o.Log.Info().Int64("enqueued", g.enqueued).Msg("demo: generator stopped")
			return ctx.Err()
		case <-t.C:
		}
	}
}

type gen struct {
	o        Options
	seq      int
	enqueued int64
}

func (g *gen) tick(ctx context.Context, n int) {
	if n%throttleEvery == 0 {
		th := throttles[(n/throttleEvery)%len(throttles)]
		g.fault(th.target, th.fault, "demo: the vendor will answer \"too fast\" (%s) %d times: watch the endpoint slow down and recover", th.fault.Code, th.fault.Times)
	}
	if n%badRecordEvery == badRecordAt {
		g.fault(vendorsim.TargetBaibaoyun, vendorsim.Fault{Code: "4001", Times: 1}, "demo: the next forms call is refused permanently (%s): it goes to the dead-letter queue", "4001")
	}
	if n%quotaEvery == quotaAt {
		g.fault(vendorsim.TargetCaihcom, vendorsim.Fault{Code: "8401", Times: 1}, "demo: the SMS account runs out of credit (%s): sms pauses for its quota_pause, nothing is lost", "8401")
	}
	if n%formsBurstEvery == 0 {
		for range formsBurst {
			g.record(ctx, EndpointForms, "demoapp/customers")
		}
	}
	if n%2 == 0 {
		g.record(ctx, EndpointTables, "demo_customers")
	} else {
		g.record(ctx, EndpointGJY, "/api/v1/customers")
	}
	if n%4 == 3 {
		g.sms(ctx, []string{g.phone()})
	}
	if n%badSMSEvery == badSMSAt {
		g.o.Log.Info().Str("phone", tasks.MaskPhone(BadPhone)).Msg("demo: an SMS to a phone the gateway refuses: that phone goes to the dead-letter queue, the other is sent")
		g.sms(ctx, []string{g.phone(), BadPhone})
	}
}

func (g *gen) fault(target string, f vendorsim.Fault, format string, a ...any) {
	if err := g.o.Sim.SetFault(target, f); err != nil {
		g.o.Log.Warn().Err(err).Msg("demo: fault injection failed")
		return
	}
	g.o.Log.Info().Str("vendor", target).Msg(fmt.Sprintf(format, a...))
}

func (g *gen) key(ep string) string {
	g.seq++
	return fmt.Sprintf("demo-%s-%s-%d", g.o.RunID, ep, g.seq)
}

// phone returns a valid demo mobile number (never BadPhone).
func (g *gen) phone() string { return fmt.Sprintf("138%08d", (g.seq*7919)%100000000) }

func (g *gen) record(ctx context.Context, ep, table string) {
	data, _ := json.Marshal(map[string]any{
		"name": fmt.Sprintf("演示客户 %d", g.seq), "phone": g.phone(), "amount": g.seq % 1000, "source": "worker --dev",
	})
	_, err := g.o.Producer.Record(ctx, tasks.RecordCreate{Endpoint: ep, Table: table, Data: data, Key: g.key(ep)})
	g.done(ctx, ep, err)
}

func (g *gen) sms(ctx context.Context, phones []string) {
	// A one-time code is what the high lane is for (docs/lanes.md): it
	// must not wait behind a campaign on the same account.
	_, err := g.o.Producer.SMS(ctx, tasks.SMSSend{
		Endpoint: EndpointSMS, Phones: phones, Sign: "【vendorq】", Priority: tasks.PriorityHigh,
		Content: fmt.Sprintf("您的验证码是 %06d，5 分钟内有效。", (g.seq*104729)%1000000), Key: g.key(EndpointSMS),
	})
	g.done(ctx, EndpointSMS, err)
}

func (g *gen) done(ctx context.Context, ep string, err error) {
	switch {
	case err == nil:
		g.enqueued++
	case ctx.Err() != nil:
	default:
		g.o.Log.Warn().Str("endpoint", ep).Err(err).Msg("demo: enqueue failed")
	}
}
