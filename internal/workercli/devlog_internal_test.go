package workercli

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// The --dev summary filter: success lines are counted per endpoint, every
// other line passes unchanged, and a flush writes one line per endpoint.
func TestSummaryWriter(t *testing.T) {
	ok := func(ep, msg string, throttled int) string {
		return fmt.Sprintf(`{"level":"info","task_id":"t1","endpoint":%q,"class":"ok","throttled":%d,"message":%q}`+"\n", ep, throttled, msg)
	}
	cases := []struct {
		name    string
		in      []string
		through []string // lines passed unchanged, in order
		summary []string // summary messages at the flush, in order
	}{
		{
			name:    "records and sms counted per endpoint",
			in:      []string{ok("forms", "record created", 0), ok("forms", "record created", 2), ok("sms", "sms sent", 0), ok("forms", "record created", 1)},
			summary: []string{"forms: 3 records created in the last 5s (2 throttled)", "sms: 1 SMS sent in the last 5s"},
		},
		{
			name: "warnings and errors pass, even with a success message",
			in: []string{
				`{"level":"warn","endpoint":"forms","warning":"w","message":"record created"}` + "\n",
				`{"level":"error","endpoint":"sms","message":"vendor quota exhausted: endpoint PAUSED, tasks wait"}` + "\n",
				`{"level":"warn","endpoint":"sms","message":"phone refused"}` + "\n",
			},
			through: []string{
				`{"level":"warn","endpoint":"forms","warning":"w","message":"record created"}` + "\n",
				`{"level":"error","endpoint":"sms","message":"vendor quota exhausted: endpoint PAUSED, tasks wait"}` + "\n",
				`{"level":"warn","endpoint":"sms","message":"phone refused"}` + "\n",
			},
		},
		{
			name: "other info lines, lines without endpoint and non-JSON pass",
			in: []string{
				`{"level":"info","endpoint":"forms","message":"already done; not calling the vendor again"}` + "\n",
				`{"level":"info","message":"record created"}` + "\n",
				"not json \"info\"\n",
				`{"level":"info","endpoint":"forms","message":"worker started"}` + "\n",
			},
			through: []string{
				`{"level":"info","endpoint":"forms","message":"already done; not calling the vendor again"}` + "\n",
				`{"level":"info","message":"record created"}` + "\n",
				"not json \"info\"\n",
				`{"level":"info","endpoint":"forms","message":"worker started"}` + "\n",
			},
		},
		{
			name:    "mixed: success swallowed, the warning between passes",
			in:      []string{ok("gjy", "record created", 0), `{"level":"warn","endpoint":"gjy","message":"vendor says too fast; endpoint slowed down"}` + "\n", ok("gjy", "record created", 1)},
			through: []string{`{"level":"warn","endpoint":"gjy","message":"vendor says too fast; endpoint slowed down"}` + "\n"},
			summary: []string{"gjy: 2 records created in the last 5s (1 throttled)"},
		},
		{
			name: "nothing counted: no summary",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			s := newSummaryWriter(&out, 0)
			start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			s.now = func() time.Time { return start }
			s.since = start
			for _, l := range c.in {
				if n, err := s.Write([]byte(l)); n != len(l) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := out.String(); got != strings.Join(c.through, "") {
				t.Errorf("passed through:\n%s\nwant:\n%s", got, strings.Join(c.through, ""))
			}
			out.Reset()
			s.now = func() time.Time { return start.Add(5 * time.Second) }
			s.Flush()
			var msgs []string
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if l == "" {
					continue
				}
				if !strings.Contains(l, `"level":"info"`) {
					t.Errorf("summary line not at info: %s", l)
				}
				i := strings.Index(l, `"message":"`)
				msgs = append(msgs, strings.TrimSuffix(l[i+len(`"message":"`):], `"}`))
			}
			if strings.Join(msgs, "|") != strings.Join(c.summary, "|") {
				t.Errorf("summary:\n%q\nwant:\n%q", msgs, c.summary)
			}
			out.Reset()
			s.Flush()
			if out.Len() != 0 {
				t.Errorf("a second flush repeats counts: %s", out.String())
			}
			s.Close()
		})
	}
}

// Concurrent writers, the timer and Close: every success line is counted
// exactly once (run with -race), lines after Close pass through, and the
// endpoints counted are bounded.
func TestSummaryWriterConcurrentAndBounded(t *testing.T) {
	var out syncBuf
	s := newSummaryWriter(&out, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				fmt.Fprintf(s, `{"level":"info","endpoint":"ep%d","message":"record created"}`+"\n", (g*500+i)%(maxSummarised+10))
			}
		}()
	}
	wg.Wait()
	s.Close()
	s.Close() // idempotent
	_, _ = s.Write([]byte(`{"level":"info","endpoint":"ep1","message":"record created"}` + "\n"))
	var done, passed int
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var n int
		if i := strings.Index(l, `"done":`); i >= 0 {
			_, _ = fmt.Sscanf(l[i+len(`"done":`):], "%d", &n)
			done += n
		} else {
			passed++
		}
	}
	// 74 endpoints, at most 64 counted: the lines of the rest passed, as
	// did the one after Close.
	if done+passed != 8*500+1 || passed < 1 {
		t.Errorf("%d counted + %d passed, want %d in all", done, passed, 8*500+1)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
