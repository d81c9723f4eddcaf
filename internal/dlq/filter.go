package dlq

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// ErrBadFilter: a filter field is not usable; the error names the field
// (its CLI flag / API parameter name without dashes).
var ErrBadFilter = errors.New("dlq: bad filter")

// Filter selects dead letters. Every field narrows the selection (the
// fields combine with AND; the codes with OR among themselves); the zero
// Filter selects everything.
type Filter struct {
	// Endpoints to look at; empty: every endpoint that has dead letters.
	Endpoints []string
	Codes     []string  // the vendor code is one of these
	Class     string    // permanent, transient, ... (vendorclient's class names)
	Type      string    // record:create or sms:send
	Since     time.Time // dead at or after (zero: no bound)
	Until     time.Time // dead before (zero: no bound)
	// Grep keeps entries whose error contains this text (case-insensitive).
	// It is the one filter without an index: it reads the entries that the
	// other filters select and tests each.
	Grep string
}

// Classes are the class names an entry may carry.
func Classes() []string {
	var out []string
	for c := vendorclient.ClassOK; c <= vendorclient.ClassPermanent; c++ {
		out = append(out, c.String())
	}
	return out
}

// Types are the task types an entry may carry.
var Types = []string{tasks.TypeRecordCreate, tasks.TypeSMSSend}

// Validate checks the filter; an error wraps ErrBadFilter and starts with
// the field's name (endpoint, code, class, type, since, until, grep).
func (f Filter) Validate() error {
	for _, ep := range f.Endpoints {
		if !tasks.ValidEndpoint(ep) {
			return fmt.Errorf("%w: endpoint: %q is not an endpoint name", ErrBadFilter, ep)
		}
	}
	for _, c := range f.Codes {
		if strings.TrimSpace(c) == "" || len(c) > 100 {
			return fmt.Errorf("%w: code: %q is not a vendor code", ErrBadFilter, c)
		}
	}
	if f.Class != "" && !slices.Contains(Classes(), f.Class) {
		return fmt.Errorf("%w: class: %q is not one of %s", ErrBadFilter, f.Class, strings.Join(Classes(), ", "))
	}
	if f.Type != "" && !slices.Contains(Types, f.Type) {
		return fmt.Errorf("%w: type: %q is not one of %s", ErrBadFilter, f.Type, strings.Join(Types, ", "))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return fmt.Errorf("%w: until: %s is not after since %s", ErrBadFilter, f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	if len(f.Grep) > 1000 {
		return fmt.Errorf("%w: grep: longer than 1000 bytes", ErrBadFilter)
	}
	return nil
}

// faceted reports whether the filter names any facet field (else the whole
// index zset is the source).
func (f Filter) faceted() bool { return len(f.Codes) > 0 || f.Class != "" || f.Type != "" }

// Empty reports whether the filter selects everything of its endpoints.
func (f Filter) Empty() bool {
	return !f.faceted() && f.Since.IsZero() && f.Until.IsZero() && f.Grep == ""
}

// matches reports whether facet fa is selected by the filter.
func (f Filter) matches(fa Facet) bool {
	return (len(f.Codes) == 0 || slices.Contains(f.Codes, fa.Code)) &&
		(f.Class == "" || f.Class == fa.Class) && (f.Type == "" || f.Type == fa.Type)
}

// grepMatch reports whether e passes the text filter.
func (f Filter) grepMatch(e Entry) bool {
	return f.Grep == "" || strings.Contains(strings.ToLower(e.Error), strings.ToLower(f.Grep))
}

// scoreRange is the filter's time range as inclusive scores (ms).
func (f Filter) scoreRange() (lo, hi int64, ok bool) {
	lo, hi = minScore, maxScore
	if !f.Since.IsZero() {
		lo = f.Since.UnixMilli()
	}
	if !f.Until.IsZero() {
		hi = f.Until.UnixMilli() - 1
	}
	return lo, hi, lo <= hi
}

// Scores are dead times in ms; these bound them (±2^53, exact in a double).
const (
	minScore = -(1 << 53)
	maxScore = 1 << 53
)

// ParseTime reads a --since/--until value: an RFC 3339 time, or a duration
// before now (90s, 2h, 7d: Go's units plus d for days).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := parseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-01-02T09:00:00+08:00) nor a positive duration (90s, 2h, 7d)", s)
	}
	return now.Add(-d), nil
}

func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n > 100*365 {
			return 0, errors.New("bad days")
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}
