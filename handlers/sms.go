package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// smsSentTTL keeps the record of delivered phones long enough for any retry
// or replay of the task (a replay must not message a phone twice).
const smsSentTTL = 30 * 24 * time.Hour

// smsPayload is an sms:send payload for the prologue.
type smsPayload struct{ tasks.SMSSend }

func (p *smsPayload) head() (string, string) { return p.Endpoint, p.Key }

func (p *smsPayload) validate(Policy) error { return p.Validate() }

// sms sends one request per phone (the gateway's partial failures make a
// multi-phone request unsafe to retry), skipping phones a previous attempt
// already delivered. Phones refused permanently are dead-lettered together,
// in one entry whose payload lists only them, once every other phone is done;
// so are phones over their phone_limits (spend.go), checked before each call.
func (r *run) sms(ctx context.Context) error {
	var p smsPayload
	if ok, err := r.prologue(ctx, &p); !ok {
		return err
	}
	sentKey := keys.SMSSent(r.h.ep, r.id)
	sent, err := r.h.d.Redis.SMembers(ctx, sentKey).Result()
	if err != nil {
		return comeBackIn(2*time.Second, fmt.Errorf("read delivered phones: %w", err))
	}
	done := make(map[string]bool, len(sent))
	for _, ph := range sent {
		done[ph] = true
	}
	var refused, capped []string
	var lastRefusal error
	var lastCode string
	for _, phone := range p.Phones {
		if done[phone] {
			continue
		}
		log := r.log.With().Str("phone", tasks.MaskPhone(phone)).Logger()
		m := vendorclient.SMS{
			MsgID: vendorclient.MsgID(r.id, phone), Phone: phone, Content: p.Content,
			Sign: p.Sign, Subcode: p.Subcode, Sendtime: p.Sendtime,
		}
		chk, err := r.checkSpend(ctx, m)
		switch {
		case err != nil: // budget spent (endpoint paused) or not counted: wait
			return err
		case chk.capped:
			capped = append(capped, phone)
			done[phone] = true
			continue
		}
		var called bool
		var last error
		took, refusal, err := r.callUntilDone(ctx, func(ctx context.Context) (string, error) {
			called, last = true, r.h.d.SMS.Send(ctx, m)
			return "", last
		})
		r.settleSpend(ctx, chk.hold, called, last)
		switch {
		case err != nil:
			// Not this phone's fault: the whole task waits or retries, and
			// the phones already delivered stay recorded.
			return err
		case refusal != nil && vendorclient.ClassOf(refusal.err) == vendorclient.ClassPermanent:
			refused = append(refused, phone)
			lastRefusal, lastCode = refusal.err, refusal.dec.code
			log.Warn().Str("class", "permanent").Str("code", lastCode).Int("attempt", r.attempt).Msg("phone refused")
		case refusal != nil: // retries spent: park what is left to do
			return r.deadLetterRefusal(ctx, remaining(p.SMSSend, done, phone, append(refused, capped...)), refusal)
		default:
			werr := r.mustRecord(ctx, func(ctx context.Context, pipe redis.Pipeliner) {
				pipe.SAdd(ctx, sentKey, phone)
				pipe.Expire(ctx, sentKey, smsSentTTL)
			})
			if werr != nil {
				// Delivered but not recorded even after finishPatience: a
				// retry could resend. Keep going (the msgid is stable, so
				// the gateway can dedupe) and say so.
				log.Warn().Err(werr).Msg("sms delivered but not recorded as sent")
			}
			log.Info().Str("class", "ok").Dur("duration_ms", took).Int("attempt", r.attempt).Msg("sms sent")
		}
		done[phone] = true
	}
	if len(refused)+len(capped) > 0 {
		return r.parkRefused(ctx, p.SMSSend, refused, capped, lastCode, lastRefusal)
	}
	// The delivered phones are dropped only once the done marker stands:
	// until then they are what keeps a re-run from messaging them again.
	if r.finishWith(ctx, ending{phones: p.Phones}) {
		_ = r.h.d.Redis.Del(ctx, sentKey).Err()
	}
	return nil
}

// remaining is the payload narrowed to the phones not yet delivered (from
// phone on), plus those refused so far, for a dead-letter entry.
func remaining(p tasks.SMSSend, done map[string]bool, from string, refused []string) []byte {
	q := p
	q.Phones = append([]string(nil), refused...)
	seen := false
	for _, ph := range p.Phones {
		if ph == from {
			seen = true
		}
		if seen && !done[ph] {
			q.Phones = append(q.Phones, ph)
		}
	}
	b, _ := json.Marshal(q)
	return b
}
