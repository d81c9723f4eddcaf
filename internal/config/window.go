package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vendorq/vendorq/tasks"
)

// SendWindow is the time of day, in China Standard Time whatever the
// host's zone, outside which an endpoint's tasks of Lanes are not called:
// they wait, counting no failure, and start when it opens (docs/lanes.md).
// From after To wraps past midnight ("22:00"–"06:00").
type SendWindow struct {
	From  string   `yaml:"from"`  // "HH:MM", the window opens
	To    string   `yaml:"to"`    // "HH:MM", it closes
	Lanes []string `yaml:"lanes"` // the lanes it holds (default [low])

	from, to time.Duration // since 00:00, set by validate
	lanes    []tasks.Priority
}

// DefaultWindowLanes are the lanes a send_window holds when it names none:
// batches wait for the window, interactive traffic (an OTP) does not.
var DefaultWindowLanes = []tasks.Priority{tasks.PriorityLow}

// Bounds returns the window's opening and closing times as durations since
// 00:00 China Standard Time (valid once the config is loaded).
func (w *SendWindow) Bounds() (from, to time.Duration) { return w.from, w.to }

// HeldLanes returns the lanes the window holds (valid once loaded).
func (w *SendWindow) HeldLanes() []tasks.Priority { return append([]tasks.Priority(nil), w.lanes...) }

// validate parses the window; at is its dotted path
// (endpoints.sms.send_window), so that every error names the field.
func (w *SendWindow) validate(at string) error {
	if w == nil {
		return nil
	}
	var err error
	if w.from, err = parseClock(w.From); err != nil {
		return fmt.Errorf("%w: %s.from: %w", ErrConfig, at, err)
	}
	if w.to, err = parseClock(w.To); err != nil {
		return fmt.Errorf("%w: %s.to: %w", ErrConfig, at, err)
	}
	if w.from == w.to {
		return fmt.Errorf("%w: %s.to: equal to from (%s): a window must not be empty nor the whole day (leave send_window out for no window)", ErrConfig, at, w.From)
	}
	if w.Lanes != nil && len(w.Lanes) == 0 {
		return fmt.Errorf("%w: %s.lanes: give at least one of high, default, low (leave lanes out for [low])", ErrConfig, at)
	}
	w.lanes = nil
	for i, s := range w.Lanes {
		p, err := tasks.ParsePriority(s)
		if err != nil || strings.TrimSpace(s) == "" {
			return fmt.Errorf("%w: %s.lanes[%d]: must be high, default or low, got %q", ErrConfig, at, i, s)
		}
		w.lanes = append(w.lanes, p)
	}
	if w.lanes == nil {
		w.lanes = append(w.lanes, DefaultWindowLanes...)
	}
	return nil
}

// parseClock reads "HH:MM" (00:00 to 23:59) as the time since 00:00.
func parseClock(s string) (time.Duration, error) {
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	h, errH := strconv.Atoi(hh)
	m, errM := strconv.Atoi(mm)
	if !ok || errH != nil || errM != nil || len(hh) != 2 || len(mm) != 2 || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("must be HH:MM from 00:00 to 23:59 (China Standard Time), got %q", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}
