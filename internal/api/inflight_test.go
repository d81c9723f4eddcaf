package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/api"
)

// waitLimit bounds every wait of these tests.
const waitLimit = 30 * time.Second

// heldRequest is a batch request whose body is on its way: the server has
// its headers (and has counted its declared size) and reads the body only
// as the test writes it.
type heldRequest struct {
	t      *testing.T
	pw     *io.PipeWriter
	rest   string
	answer chan answer
}

// hold sends the headers of the batch "{"+rest and its first byte. The
// client sends Expect: 100-continue, so the body leaves only after the
// server's 100 Continue, which it sends when the handler first reads the
// body, after it counted the request: once the first byte is taken, the
// request holds its share of the budget.
func (e *env) hold(rest string) *heldRequest {
	e.t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, e.url+"/v1/tasks:batch", pr)
	if err != nil {
		e.t.Fatal(err)
	}
	req.ContentLength = int64(1 + len(rest))
	// For the OpenAPI check of an accepted request (checkingTransport).
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("{" + rest)), nil }
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	h := &heldRequest{t: e.t, pw: pw, rest: rest, answer: make(chan answer, 1)}
	go func() {
		var a answer
		resp, err := e.client.Do(req)
		if err == nil {
			a.status, a.header = resp.StatusCode, resp.Header
			a.body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			a.body = []byte(err.Error())
		}
		h.answer <- a
	}()
	h.write("{")
	return h
}

// write hands s to the client's transport, which sends it on.
func (h *heldRequest) write(s string) {
	h.t.Helper()
	wrote := make(chan error, 1)
	go func() {
		_, err := io.WriteString(h.pw, s)
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			h.t.Fatal(err)
		}
	case <-time.After(waitLimit):
		h.t.Fatal("the server never read the held body")
	}
}

// finish sends the rest of the body and returns the answer.
func (h *heldRequest) finish() answer {
	h.t.Helper()
	h.write(h.rest)
	_ = h.pw.Close()
	select {
	case a := <-h.answer:
		return a
	case <-time.After(waitLimit):
		h.t.Fatal("no answer to the held request")
		return answer{}
	}
}

// paddedBatch is the rest, after "{", of a one-task batch of exactly size
// bytes (trailing spaces).
func paddedBatch(t *testing.T, size int64) string {
	t.Helper()
	b := `"items":[{"type":"record","task":` + goodRecord + `}]}`
	return b + strings.Repeat(" ", int(size)-1-len(b))
}

// withExpectContinue lets e's client wait for 100 Continue.
func withExpectContinue(e *env) *env {
	ct := e.client.Transport.(*checkingTransport)
	base := ct.base.(*http.Transport).Clone()
	base.ExpectContinueTimeout = waitLimit
	e.client.Transport = &checkingTransport{t: ct.t, base: base, doc: ct.doc}
	return e
}

// Beyond MaxInFlight maximal bodies, a request is answered 503 with
// Retry-After at once, on every POST route, without waiting for a slot;
// GET routes are not counted; once the body in flight is done the next
// request is served.
func TestBusyRefusedAtOnce(t *testing.T) {
	e := withExpectContinue(newEnv(t, func(o *api.Options) { o.MaxInFlight = 1 }))
	held := e.hold(paddedBatch(t, api.MaxBatchBytes))
	for _, tc := range []struct{ path, body string }{
		{"/v1/tasks/record", goodRecord},
		{"/v1/tasks/sms", goodSMS},
		{"/v1/tasks:batch", batchOf(t, `{"type":"sms","task":`+goodSMS+`}`)},
	} {
		a := e.do("POST", tc.path, tc.body)
		if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
			t.Fatalf("%s while a maximal body is in flight: status %d, Retry-After %q: %s", tc.path, a.status, a.header.Get("Retry-After"), a.body)
		}
		if errs := a.errors(t); !strings.Contains(errs[0].Reason, "busy") {
			t.Fatalf("%s: %+v", tc.path, errs)
		}
	}
	if a := e.do("GET", "/healthz", ""); a.status != http.StatusOK {
		t.Fatalf("healthz while busy: %d", a.status)
	}
	if n := e.pending("forms") + e.pending("sms"); n != 0 {
		t.Fatalf("%d tasks enqueued by refused requests", n)
	}
	if a := held.finish(); a.status != http.StatusOK || decodeBatch(t, a).Accepted != 1 {
		t.Fatalf("held batch: status %d: %.300s", a.status, a.body)
	}
	if a := e.do("POST", "/v1/tasks/sms", goodSMS); a.status != http.StatusAccepted {
		t.Fatalf("after the held batch: status %d: %s", a.status, a.body)
	}
}

// Requests count at their declared size: beside a body of half the budget,
// small tasks are served, and a second half plus one byte is refused.
func TestBudgetCountsDeclaredSize(t *testing.T) {
	e := withExpectContinue(newEnv(t, func(o *api.Options) { o.MaxInFlight = 1 }))
	half := int64(api.MaxBatchBytes / 2)
	held := e.hold(paddedBatch(t, half))
	if a := e.do("POST", "/v1/tasks/record", goodRecord); a.status != http.StatusAccepted {
		t.Fatalf("a small task beside half the budget: status %d: %s", a.status, a.body)
	}
	if a := e.do("POST", "/v1/tasks:batch", "{"+paddedBatch(t, half+1), "Expect", "100-continue"); a.status != http.StatusServiceUnavailable {
		t.Fatalf("half the budget plus one byte beside half: status %d: %.300s", a.status, a.body)
	}
	if a := held.finish(); a.status != http.StatusOK {
		t.Fatalf("held batch: status %d: %.300s", a.status, a.body)
	}
}
