package tasks

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

func TestNotBeforeRoundsUp(t *testing.T) {
	base := time.Date(2026, 12, 2, 2, 0, 5, 0, time.UTC)
	for _, tc := range []struct{ in, want time.Time }{
		{base, base},
		{base.Add(time.Nanosecond), base.Add(time.Second)},
		{base.Add(700 * time.Millisecond), base.Add(time.Second)},
		{base.Add(-time.Nanosecond), base},
	} {
		o := NotBefore(tc.in)
		if o.Type() != asynq.ProcessAtOpt || !o.Value().(time.Time).Equal(tc.want) {
			t.Errorf("NotBefore(%v) = %v, want ProcessAt(%v)", tc.in, o, tc.want)
		}
	}
}
