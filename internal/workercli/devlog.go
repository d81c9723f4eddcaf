package workercli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// devSummaryEvery is how often --dev summarises the successful calls.
const devSummaryEvery = 5 * time.Second

// maxSummarised bounds the endpoints counted; lines of further endpoints
// pass through unchanged (a config has a handful).
const maxSummarised = 64

// maxParsedLine: longer lines are passed through without being parsed.
const maxParsedLine = 16 << 10

// summarised are the handlers' per-call success messages (handlers/record.go,
// handlers/sms.go) and the noun of their summary.
var summarised = map[string]string{
	"record created": "records created",
	"sms sent":       "SMS sent",
}

// summaryWriter is the --dev log filter (level info only): it sits between
// zerolog and the real output, swallows the info-level success line of
// every call and counts it per endpoint, and every devSummaryEvery (and at
// Close) writes one line per endpoint instead, e.g.
// "forms: 23 records created in the last 5s (2 throttled)". Every other
// line, warnings and errors always, passes through unchanged. It buffers
// nothing but the counters (at most maxSummarised endpoints) and is safe
// for concurrent use.
type summaryWriter struct {
	out   *lockedWriter
	log   zerolog.Logger // writes the summaries to out
	every time.Duration
	now   func() time.Time

	mu     sync.Mutex
	since  time.Time
	counts map[string]*callCount
	closed bool

	stop chan struct{}
	done chan struct{}
}

type callCount struct {
	noun      string
	done      int
	throttled int // calls that met at least one "too fast" first
}

// lockedWriter serialises writes to w (the console writer is not safe for
// concurrent use on its own).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// newSummaryWriter returns the filter in front of out; every <= 0 means
// no timer (summaries only at Flush/Close, for tests).
func newSummaryWriter(out io.Writer, every time.Duration) *summaryWriter {
	lw := &lockedWriter{w: out}
	s := &summaryWriter{
		out: lw, log: zerolog.New(lw).With().Timestamp().Logger(), every: every, now: time.Now,
		counts: map[string]*callCount{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	s.since = s.now()
	if every <= 0 {
		close(s.done)
		return s
	}
	go s.loop()
	return s
}

func (s *summaryWriter) loop() {
	defer close(s.done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Flush()
		}
	}
}

// successLine is what the filter reads of a line.
type successLine struct {
	Level     string `json:"level"`
	Message   string `json:"message"`
	Endpoint  string `json:"endpoint"`
	Throttled int    `json:"throttled"`
}

// Write implements io.Writer: zerolog hands over one JSON line per call.
func (s *summaryWriter) Write(p []byte) (int, error) {
	if s.count(p) {
		return len(p), nil
	}
	return s.out.Write(p)
}

// count reports whether p was a success line, now counted.
func (s *summaryWriter) count(p []byte) bool {
	if len(p) > maxParsedLine || !bytes.Contains(p, []byte(`"info"`)) {
		return false
	}
	var l successLine
	if json.Unmarshal(p, &l) != nil || l.Level != zerolog.LevelInfoValue || l.Endpoint == "" {
		return false
	}
	noun, ok := summarised[l.Message]
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	c := s.counts[l.Endpoint]
	if c == nil {
		if len(s.counts) >= maxSummarised {
			return false
		}
		c = &callCount{noun: noun}
		s.counts[l.Endpoint] = c
	}
	c.done++
	if l.Throttled > 0 {
		c.throttled++
	}
	return true
}

// Flush writes the summary of the calls counted since the last one (one
// line per endpoint that had any) and starts a new period.
func (s *summaryWriter) Flush() {
	s.mu.Lock()
	now := s.now()
	took := now.Sub(s.since)
	counts := s.counts
	s.since, s.counts = now, map[string]*callCount{}
	s.mu.Unlock()
	s.write(counts, took)
}

func (s *summaryWriter) write(counts map[string]*callCount, took time.Duration) {
	eps := make([]string, 0, len(counts))
	for ep := range counts {
		eps = append(eps, ep)
	}
	sort.Strings(eps)
	period := took.Round(100 * time.Millisecond)
	if period >= time.Second {
		period = took.Round(time.Second)
	}
	for _, ep := range eps {
		c := counts[ep]
		msg := fmt.Sprintf("%s: %d %s in the last %v", ep, c.done, c.noun, period)
		if c.throttled > 0 {
			msg += fmt.Sprintf(" (%d throttled)", c.throttled)
		}
		s.log.Info().Str("endpoint", ep).Int("done", c.done).Int("throttled", c.throttled).
			Int64("period_ms", took.Milliseconds()).Msg(msg)
	}
}

// Close stops the timer and writes the last summary; lines written after
// it pass through unchanged.
func (s *summaryWriter) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	if s.every > 0 {
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	counts, took := s.counts, s.now().Sub(s.since)
	s.counts = map[string]*callCount{}
	s.mu.Unlock()
	s.write(counts, took)
}
