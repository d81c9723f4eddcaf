package enqueuecli

import (
	"fmt"
	"io"
	"time"

	"github.com/hibiken/asynq"
	"github.com/spf13/pflag"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// pastGrace is how far in the past an --at may be and still mean "now":
// the producer's and the worker's clocks differ by seconds, and a command
// prepared a moment ago runs a little late. Further back, the time is
// more likely a mistake (a wrong day or zone offset) than a wish, so it is
// refused rather than run at once.
const pastGrace = time.Minute

// laneFlags are --priority, --at and --in of record, sms and import
// (README "Lanes and timing").
type laneFlags struct {
	priority string
	at       string
	in       time.Duration
	atSet    bool // --at was given
	inSet    bool // --in was given
}

// lane is what laneFlags resolve to.
type lane struct {
	priority tasks.Priority
	until    time.Time      // zero: ready at once
	opts     []asynq.Option // asynq.ProcessAt when held
}

// add registers the flags; def is --priority's default.
func (f *laneFlags) add(fl *pflag.FlagSet, def tasks.Priority, what string) {
	fl.StringVar(&f.priority, "priority", string(def), "lane: high (OTPs, user-facing), default, or low (imports, marketing)"+what)
	fl.StringVar(&f.at, "at", "", `do not run before this RFC3339 time, e.g. 2026-12-02T09:30:00+08:00`)
	fl.DurationVar(&f.in, "in", 0, "do not run before this long from now, e.g. 90s, 45m, 2h")
}

// resolve reads the flags (fl tells which were given) at time now.
func (f *laneFlags) resolve(fl *pflag.FlagSet, now time.Time) (lane, error) {
	f.atSet, f.inSet = fl.Changed("at"), fl.Changed("in")
	p, err := tasks.ParsePriority(f.priority)
	if err != nil {
		return lane{}, fail(cliexit.Usage, "--priority %q: must be high, default or low", f.priority)
	}
	until, flag, err := holdTime(now, f.at, f.atSet, f.in, f.inSet)
	if err != nil {
		return lane{}, err
	}
	opts, err := producer.Hold(now, until)
	if err != nil {
		return lane{}, fail(cliexit.Usage, "%s: %v", flag, err)
	}
	if opts == nil {
		until = time.Time{}
	}
	return lane{priority: p, until: until, opts: opts}, nil
}

// holdTime decides the time --at or --in asks for (zero: now) and names
// the flag it came from. A negative --in, or an --at more than pastGrace
// ago, is refused; an --at less than pastGrace ago runs now.
func holdTime(now time.Time, at string, atSet bool, in time.Duration, inSet bool) (time.Time, string, error) {
	switch {
	case atSet && inSet:
		return time.Time{}, "", fail(cliexit.Usage, "--at and --in both say when to run: give one of them")
	case inSet && in < 0:
		return time.Time{}, "", fail(cliexit.Usage, "--in %v: must not be negative (use --in 0s, or leave it out, to run now)", in)
	case inSet:
		if in == 0 {
			return time.Time{}, "--in", nil
		}
		return now.Add(in), "--in", nil
	case !atSet:
		return time.Time{}, "", nil
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return time.Time{}, "", fail(cliexit.Usage, "--at %q: not an RFC3339 time with a zone, e.g. 2026-12-02T09:30:00+08:00 or 2026-12-02T01:30:00Z", at)
	}
	if ago := now.Sub(t); ago > pastGrace {
		return time.Time{}, "", fail(cliexit.Usage, "--at %s is %v in the past (up to %v ago runs now; check the date and the zone offset)", at, ago.Round(time.Second), pastGrace)
	}
	return t, "--at", nil
}

// noteHold says on stderr when a held task runs (stdout keeps the task ID
// alone, SPEC §3.3).
func noteHold(w io.Writer, l lane, now time.Time) {
	if l.until.IsZero() {
		return
	}
	fmt.Fprintf(w, "scheduled: not before %s (in %v)\n", l.until.Format(time.RFC3339), l.until.Sub(now).Round(time.Second))
}

// laneHelp ends the Long help of record, sms and import.
const laneHelp = `
Lanes (--priority): on one endpoint, across every worker, a ready high task
takes the next slot of the shared rate before any default or low one, and
default before low. Use high for OTPs and what a user waits for, low for
bulk work. Strictly: a lane that alone fills the rate holds the lower ones.

Timing (--at or --in): the task is not run before that time; waiting is no
failure and costs no retry. An --at up to a minute ago runs now; further
back, or a negative --in, is refused (exit 2). At most 366 days ahead.
stdout still gets the task ID alone; stderr says when it runs.
`
