package enqueuecli

import (
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/dlq"
)

// dlqFilterFlags are the filters every dlq subcommand takes (SPEC §3.8).
type dlqFilterFlags struct {
	codes              []string
	class, typ         string
	since, until, grep string
}

func (ff *dlqFilterFlags) register(cmd *cobra.Command) {
	fl := cmd.PersistentFlags()
	fl.StringSliceVar(&ff.codes, "code", nil, "only this vendor code (repeatable, or comma-separated: --code 4001,4002)")
	fl.StringVar(&ff.class, "class", "", "only this class: "+strings.Join(dlq.Classes(), "|"))
	fl.StringVar(&ff.typ, "type", "", "only this task type: "+strings.Join(dlq.Types, "|"))
	fl.StringVar(&ff.since, "since", "", "only dead at or after: a duration before now (90m, 2h, 7d) or an RFC 3339 time")
	fl.StringVar(&ff.until, "until", "", "only dead before: a duration before now or an RFC 3339 time")
	fl.StringVar(&ff.grep, "grep", "", "only those whose error contains this text (case-insensitive; reads the entries the other filters select)")
}

// given reports whether any filter flag is set.
func (ff *dlqFilterFlags) given() bool {
	return len(ff.codes) > 0 || ff.class != "" || ff.typ != "" || ff.since != "" || ff.until != "" || ff.grep != ""
}

// filter builds the store's filter over eps; a bad value is a usage error
// naming its flag.
func (ff *dlqFilterFlags) filter(eps []string, now time.Time) (dlq.Filter, error) {
	f := dlq.Filter{Endpoints: eps, Codes: ff.codes, Class: ff.class, Type: ff.typ, Grep: ff.grep}
	var err error
	if ff.since != "" {
		if f.Since, err = dlq.ParseTime(ff.since, now); err != nil {
			return f, fail(cliexit.Usage, "--since: %v", err)
		}
	}
	if ff.until != "" {
		if f.Until, err = dlq.ParseTime(ff.until, now); err != nil {
			return f, fail(cliexit.Usage, "--until: %v", err)
		}
	}
	if err := f.Validate(); err != nil {
		return f, filterError(err)
	}
	return f, nil
}

// filterError turns the store's ErrBadFilter/ErrBadCursor ("dlq: bad
// filter: class: ...") into a usage error naming the flag ("--class: ...").
func filterError(err error) error {
	for _, sentinel := range []error{dlq.ErrBadFilter, dlq.ErrBadCursor} {
		if errors.Is(err, sentinel) {
			return fail(cliexit.Usage, "--%s", strings.TrimPrefix(err.Error(), sentinel.Error()+": "))
		}
	}
	return fail(cliexit.Redis, "%v", err)
}
