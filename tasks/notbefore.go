package tasks

import (
	"time"

	"github.com/hibiken/asynq"
)

// NotBefore is the option that holds a task until t (README "Lanes and
// timing"): asynq.ProcessAt with t rounded up to a whole second. asynq
// keeps a scheduled task's time in whole seconds, rounded down, and moves
// the task to its queue as soon as that second begins, so
// asynq.ProcessAt(10:00:05.7) alone may run the task at 10:00:05.0, before
// its time. Waiting is no failure and costs no retry.
//
//	task, err := tasks.NewSMSSendTask(sms, tasks.NotBefore(time.Now().Add(2*time.Hour)))
func NotBefore(t time.Time) asynq.Option {
	if whole := t.Truncate(time.Second); whole.Before(t) {
		t = whole.Add(time.Second)
	}
	return asynq.ProcessAt(t)
}
