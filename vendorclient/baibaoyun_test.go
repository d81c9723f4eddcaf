package vendorclient

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/vendorsim"
)

// tblWant is the expected outcome of one answer (both table vendors).
type tblWant struct {
	class   Class
	code    string        // *Error.Code; "" when class is ClassOK
	id      string        // RecordResult.ID when ok
	warning bool          // RecordResult.Warning set
	delay   time.Duration // *Error.Delay
}

// checkTblOutcome compares a client result with want (shared by both table vendors' tests).
func checkTblOutcome(t *testing.T, vendor string, res RecordResult, err error, want tblWant) {
	t.Helper()
	if want.class == ClassOK {
		if err != nil {
			t.Fatalf("err = %v, want success", err)
		}
		if res.ID != want.id {
			t.Errorf("ID = %q, want %q", res.ID, want.id)
		}
		if (res.Warning != "") != want.warning {
			t.Errorf("Warning = %q, want set=%v", res.Warning, want.warning)
		}
		return
	}
	e := AsError(err)
	if e == nil {
		t.Fatalf("err = %v (result %+v), want *Error class %s", err, res, want.class)
	}
	if e.Vendor != vendor || e.Class != want.class || e.Code != want.code {
		t.Errorf("got vendor=%s class=%s code=%q, want %s %s %q (%v)", e.Vendor, e.Class, e.Code, vendor, want.class, want.code, err)
	}
	if e.Delay != want.delay {
		t.Errorf("Delay = %v, want %v", e.Delay, want.delay)
	}
	if res != (RecordResult{}) {
		t.Errorf("result %+v returned with an error", res)
	}
}

func TestBaibaoyunClassification(t *testing.T) {
	body := func(code int) string { return `{"code":` + strconv.Itoa(code) + `,"message":"m"}` }
	type tc struct {
		name   string
		status int
		ra     string // Retry-After
		body   string
		want   tblWant
	}
	cases := []tc{}
	// Every documented error code, as the document sends it (HTTP 400).
	documented := map[int]Class{
		4001: ClassPermanent, 4002: ClassPermanent, 4003: ClassPermanent, 4004: ClassThrottled,
		4005: ClassQuota, 4006: ClassPermanent, 4007: ClassPermanent, 4008: ClassTransient,
		4009: ClassPermanent, 4011: ClassPermanent, 4012: ClassPermanent, 4013: ClassPermanent,
		9999: ClassTransient,
	}
	for code, class := range documented {
		cases = append(cases, tc{name: strconv.Itoa(code), status: 400, body: body(code), want: tblWant{class: class, code: strconv.Itoa(code)}})
	}
	cases = append(cases,
		tc{"4010 inserted with backend error", 400, "", body(4010), tblWant{class: ClassOK, warning: true}},
		tc{"4010 keeps an id when given", 400, "", `{"code":4010,"message":"m","data":{"_id":"r9"}}`, tblWant{class: ClassOK, id: "r9", warning: true}},
		tc{"undocumented code", 400, "", body(4999), tblWant{class: ClassPermanent, code: "4999"}},
		tc{"doc example with trailing comma", 400, "", "{\n  \"code\": 4004,\n  \"message\": \"超出请求频率限制\",\n}", tblWant{class: ClassThrottled, code: "4004"}},
		tc{"4004 with Retry-After", 400, "3", body(4004), tblWant{class: ClassThrottled, code: "4004", delay: 3 * time.Second}},
		tc{"code as a string", 400, "", `{"code":"4005","message":"m"}`, tblWant{class: ClassQuota, code: "4005"}},
		tc{"code found in a broken body", 400, "", `{"code": 9999, "message": "x" oops`, tblWant{class: ClassTransient, code: "9999"}},
		tc{"400 garbage", 400, "", `<html>bad gateway</html>`, tblWant{class: ClassTransient, code: "malformed"}},
		tc{"400 empty", 400, "", ``, tblWant{class: ClassTransient, code: "malformed"}},
		tc{"400 without code", 400, "", `{"message":"m"}`, tblWant{class: ClassTransient, code: "malformed"}},
		tc{"401 bad key", 401, "", `{"code":401,"message":"APIKey无效"}`, tblWant{class: ClassPermanent, code: "http_401"}},
		tc{"403", 403, "", ``, tblWant{class: ClassPermanent, code: "http_403"}},
		tc{"404", 404, "", `not found`, tblWant{class: ClassPermanent, code: "http_404"}},
		tc{"429", 429, "7", ``, tblWant{class: ClassThrottled, code: "http_429", delay: 7 * time.Second}},
		tc{"500", 500, "", body(9999), tblWant{class: ClassTransient, code: "http_500"}},
		tc{"502", 502, "", `<html>`, tblWant{class: ClassTransient, code: "http_502"}},
		tc{"503", 503, "", ``, tblWant{class: ClassTransient, code: "http_503"}},
		tc{"200 empty", 200, "", ``, tblWant{class: ClassTransient, code: "malformed"}},
		tc{"200 with _id", 200, "", `{"code":0,"message":"ok","data":{"_id":"5f1a"}}`, tblWant{class: ClassOK, id: "5f1a"}},
		tc{"201 with numeric id", 201, "", `{"id":42}`, tblWant{class: ClassOK, id: "42"}},
		tc{"200 with trailing comma", 200, "", `{"code":0,"data":{"_id":"x1",},}`, tblWant{class: ClassOK, id: "x1"}},
		tc{"200 garbage", 200, "", `{"oops":`, tblWant{class: ClassTransient, code: "malformed"}},
		tc{"documented error code in a 200 body", 200, "", body(4004), tblWant{class: ClassThrottled, code: "4004"}},
		tc{"undocumented code in a 200 body", 200, "", `{"code":200,"data":{"id":"a"}}`, tblWant{class: ClassOK, id: "a"}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.ra != "" {
				h.Set("Retry-After", c.ra)
			}
			res, err := decodeBaibaoyun(c.status, h, []byte(c.body))
			checkTblOutcome(t, VendorBaibaoyun, res, err, c.want)
			if c.want.code == "malformed" && !errors.Is(err, ErrMalformedAnswer) {
				t.Errorf("err = %v, want ErrMalformedAnswer", err)
			}
		})
	}
}

func TestBaibaoyunMessages(t *testing.T) {
	// The doc's example: the message survives the trailing comma.
	_, err := decodeBaibaoyun(400, nil, []byte("{\"code\": 4004, \"message\": \"超出请求频率限制\",}"))
	if e := AsError(err); e == nil || e.Message != "超出请求频率限制" {
		t.Errorf("err = %v, want message 超出请求频率限制", err)
	}
	res, err := decodeBaibaoyun(400, nil, []byte(`{"code":4010,"message":"数据插入成功,后端代码返回错误：boom"}`))
	if err != nil || !strings.Contains(res.Warning, "4010") || !strings.Contains(res.Warning, "boom") {
		t.Errorf("4010: res=%+v err=%v, want a warning naming 4010 and the message", res, err)
	}
	// A huge message is cut, not carried whole into logs and the DLQ.
	long := strings.Repeat("错", 2000)
	_, err = decodeBaibaoyun(400, nil, []byte(`{"code":4001,"message":"`+long+`"}`))
	if e := AsError(err); e == nil || len(e.Message) > maxMessage+len("…") {
		t.Errorf("message not bounded: %d bytes", len(AsError(err).Message))
	}
}

func TestNewBaibaoyunErrors(t *testing.T) {
	if _, err := NewBaibaoyun(BaibaoyunConfig{}); err == nil || !strings.Contains(err.Error(), "APIKey") {
		t.Errorf("missing key: err = %v, want it to name APIKey", err)
	}
	for _, base := range []string{"ftp://x", "://bad", "http://", "http://h/?q=1"} {
		if _, err := NewBaibaoyun(BaibaoyunConfig{APIKey: "k", BaseURL: base}); err == nil || !strings.Contains(err.Error(), "BaseURL") {
			t.Errorf("BaseURL %q: err = %v, want it to name BaseURL", base, err)
		}
	}
	c, err := NewBaibaoyun(BaibaoyunConfig{APIKey: "k"})
	if err != nil || c.base != "https://webapi.baibaoyun.com" || c.tr.timeout != DefaultTimeout {
		t.Errorf("defaults: base=%q timeout=%v err=%v", c.base, c.tr.timeout, err)
	}
}

func TestBaibaoyunBadInputNeverCalls(t *testing.T) {
	sim, c := newBbyLoop(t, vendorsim.Config{}, 0)
	good := json.RawMessage(`{"a":1}`)
	cases := []struct {
		table string
		data  json.RawMessage
	}{
		{"", good}, {"app", good}, {"a/b/c", good}, {"/b", good}, {"a/", good}, {"../b", good}, {"a/..", good},
		{"a\n/b", good}, {"a/b\x00", good},
		{"a/b", nil}, {"a/b", json.RawMessage(`[]`)}, {"a/b", json.RawMessage(`null`)}, {"a/b", json.RawMessage(`"x"`)},
		{"a/b", json.RawMessage(`{"a":`)}, {"a/b", json.RawMessage(`{"a":1} {}`)}, {"a/b", json.RawMessage(`42`)},
	}
	for _, tc := range cases {
		_, err := c.CreateRecord(context.Background(), tc.table, tc.data)
		e := AsError(err)
		if e == nil || e.Class != ClassPermanent || e.Code != "bad_input" || !errors.Is(err, ErrBadRequest) {
			t.Errorf("table=%q data=%q: err = %v, want permanent bad_input ErrBadRequest", tc.table, tc.data, err)
		}
	}
	if n := sim.Stats()[vendorsim.TargetBaibaoyun].Calls; n != 0 {
		t.Errorf("bad input reached the vendor %d times", n)
	}
}

func TestBaibaoyunWireFormat(t *testing.T) {
	type seen struct {
		method, path, auth, ctype, body string
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)}
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"code":0,"message":"ok","data":{"_id":"r1"}}`)
	}))
	defer srv.Close()
	c, err := NewBaibaoyun(BaibaoyunConfig{BaseURL: srv.URL + "/", APIKey: "the-key"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.CreateRecord(context.Background(), "app 1/entry?2", json.RawMessage(` { "a" : 1, "b": "x" } `))
	if err != nil || res.ID != "r1" {
		t.Fatalf("res=%+v err=%v, want ID r1", res, err)
	}
	s := <-got
	want := seen{"POST", "/api/v1/app/app%201/entry/entry%3F2/data_create", "Bearer the-key", "application/json; charset=utf-8", `{"data":{"a":1,"b":"x"}}`}
	if s != want {
		t.Errorf("request\n got %+v\nwant %+v", s, want)
	}
}

// newBbyLoop starts the simulator and a client aimed at it.
func newBbyLoop(t *testing.T, cfg vendorsim.Config, timeout time.Duration) (*vendorsim.Sim, *Baibaoyun) {
	t.Helper()
	sim := vendorsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := NewBaibaoyun(BaibaoyunConfig{BaseURL: srv.URL, APIKey: sim.Config().Baibaoyun.APIKey, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

var bbyIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestBaibaoyunLoopback(t *testing.T) {
	cases := []struct {
		name   string
		fault  *vendorsim.Fault
		want   tblWant
		stored bool // the simulator holds the record afterwards
	}{
		{"success", nil, tblWant{class: ClassOK}, true},
		{"4004 throttled", &vendorsim.Fault{Code: "4004"}, tblWant{class: ClassThrottled, code: "4004"}, false},
		{"4005 quota", &vendorsim.Fault{Code: "4005"}, tblWant{class: ClassQuota, code: "4005"}, false},
		{"4010 ok with warning", &vendorsim.Fault{Code: "4010"}, tblWant{class: ClassOK, warning: true}, true},
		{"9999 transient", &vendorsim.Fault{Code: "9999"}, tblWant{class: ClassTransient, code: "9999"}, false},
		{"4008 transient", &vendorsim.Fault{Code: "4008"}, tblWant{class: ClassTransient, code: "4008"}, false},
		{"4001 permanent", &vendorsim.Fault{Code: "4001"}, tblWant{class: ClassPermanent, code: "4001"}, false},
		{"4006 permanent", &vendorsim.Fault{Code: "4006"}, tblWant{class: ClassPermanent, code: "4006"}, false},
		{"http 429", &vendorsim.Fault{Code: "http_429", RetryAfter: 3}, tblWant{class: ClassThrottled, code: "http_429", delay: 3 * time.Second}, false},
		{"http 503", &vendorsim.Fault{Code: "http_503"}, tblWant{class: ClassTransient, code: "http_503"}, false},
		{"garbage", &vendorsim.Fault{Code: "garbage"}, tblWant{class: ClassTransient, code: "malformed"}, false},
		{"outage", &vendorsim.Fault{Outage: true}, tblWant{class: ClassTransient, code: "conn"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, c := newBbyLoop(t, vendorsim.Config{}, 5*time.Second)
			if tc.fault != nil {
				if err := sim.SetFault(vendorsim.TargetBaibaoyun, *tc.fault); err != nil {
					t.Fatal(err)
				}
			}
			res, err := c.CreateRecord(context.Background(), "app1/entry1", json.RawMessage(`{"name":"张三","n":1}`))
			if tc.want.class == ClassOK && tc.fault == nil {
				if err != nil || !bbyIDPattern.MatchString(res.ID) {
					t.Fatalf("res=%+v err=%v, want a 24-hex id", res, err)
				}
				tc.want.id = res.ID
			}
			checkTblOutcome(t, VendorBaibaoyun, res, err, tc.want)
			st := sim.Stats()[vendorsim.TargetBaibaoyun]
			if st.Calls != 1 {
				t.Errorf("calls = %d, want 1", st.Calls)
			}
			if got := st.Accepted == 1; got != tc.stored {
				t.Errorf("accepted = %d, want stored=%v", st.Accepted, tc.stored)
			}
		})
	}
}

// TestBaibaoyunLoopbackRateLimit really exceeds 5 calls/second. The
// simulator's clock is frozen so every call falls in the same second
// whatever the machine's speed.
func TestBaibaoyunLoopbackRateLimit(t *testing.T) {
	var nowNS atomic.Int64
	nowNS.Store(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	sim, c := newBbyLoop(t, vendorsim.Config{Now: func() time.Time { return time.Unix(0, nowNS.Load()) }}, 5*time.Second)

	const calls = 10
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.CreateRecord(context.Background(), "a/e", json.RawMessage(`{"i":`+strconv.Itoa(i)+`}`))
		}()
	}
	wg.Wait()
	ok, throttled := 0, 0
	for _, err := range errs {
		switch e := AsError(err); {
		case err == nil:
			ok++
		case e != nil && e.Class == ClassThrottled && e.Code == "4004":
			throttled++
		default:
			t.Errorf("unexpected answer: %v", err)
		}
	}
	if ok != 5 || throttled != calls-5 {
		t.Errorf("ok=%d throttled=%d, want 5 and %d", ok, throttled, calls-5)
	}
	// One second later the window is empty again.
	nowNS.Add(int64(time.Second))
	if _, err := c.CreateRecord(context.Background(), "a/e", json.RawMessage(`{"late":true}`)); err != nil {
		t.Errorf("after the window: %v", err)
	}
	if st := sim.Stats()[vendorsim.TargetBaibaoyun]; st.Accepted != 6 || st.Codes["4004"] != calls-5 {
		t.Errorf("stats accepted=%d 4004=%d", st.Accepted, st.Codes["4004"])
	}
}

func TestBaibaoyunLoopbackBadKey(t *testing.T) {
	sim := vendorsim.New(vendorsim.Config{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	const wrong = "wrong-key-0123456789"
	c, err := NewBaibaoyun(BaibaoyunConfig{BaseURL: srv.URL, APIKey: wrong})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.CreateRecord(context.Background(), "a/e", json.RawMessage(`{"x":1}`))
	checkTblOutcome(t, VendorBaibaoyun, res, err, tblWant{class: ClassPermanent, code: "http_401"})
	if err != nil && strings.Contains(err.Error(), wrong) {
		t.Errorf("error carries the key: %v", err)
	}
	if st := sim.Stats()[vendorsim.TargetBaibaoyun]; st.Accepted != 0 || st.Codes["http_401"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestBaibaoyunScrubsKeyFromMessages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"code":4001,"message":"bad header `+r.Header.Get("Authorization")+`"}`)
	}))
	defer srv.Close()
	c, _ := NewBaibaoyun(BaibaoyunConfig{BaseURL: srv.URL, APIKey: "sekrit-key"})
	_, err := c.CreateRecord(context.Background(), "a/e", json.RawMessage(`{}`))
	if err == nil || strings.Contains(err.Error(), "sekrit-key") || ClassOf(err) != ClassPermanent {
		t.Errorf("err = %v, want a permanent error without the key", err)
	}
}

func TestBaibaoyunLoopbackTimeout(t *testing.T) {
	sim, c := newBbyLoop(t, vendorsim.Config{}, 150*time.Millisecond)
	if err := sim.SetFault(vendorsim.TargetBaibaoyun, vendorsim.Fault{Latency: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := c.CreateRecord(context.Background(), "a/e", json.RawMessage(`{"x":1}`))
	checkTblOutcome(t, VendorBaibaoyun, res, err, tblWant{class: ClassTransient, code: "timeout"})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, the 150ms timeout was not applied", d)
	}
}

func TestBaibaoyunContextCanceled(t *testing.T) {
	assertCancelHonoured(t, vendorsim.TargetBaibaoyun, func(ctx context.Context, sim *vendorsim.Sim, base string) error {
		c, _ := NewBaibaoyun(BaibaoyunConfig{BaseURL: base, APIKey: sim.Config().Baibaoyun.APIKey})
		_, err := c.CreateRecord(ctx, "a/e", json.RawMessage(`{"x":1}`))
		return err
	})
}

// assertCancelHonoured starts call against the simulator with a 30 s
// latency fault on target, cancels its context once the request has
// arrived, and checks the call returns at once with a transient "canceled"
// error wrapping context.Canceled.
func assertCancelHonoured(t *testing.T, target string, call func(ctx context.Context, sim *vendorsim.Sim, baseURL string) error) {
	t.Helper()
	sim := vendorsim.New(vendorsim.Config{})
	if err := sim.SetFault(target, vendorsim.Fault{Latency: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		sim.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- call(ctx, sim, srv.URL) }()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the call never reached the server")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || ClassOf(err) != ClassTransient || AsError(err).Code != "canceled" {
			t.Errorf("err = %v, want a transient canceled error wrapping context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancellation was not honoured")
	}
}

// FuzzDecodeBaibaoyun: no answer makes the decoder panic, and every error is
// a baibaoyun *Error with a class the worker knows.
func FuzzDecodeBaibaoyun(f *testing.F) {
	f.Fuzz(func(t *testing.T, status int, retryAfterHdr string, body []byte) {
		h := http.Header{}
		if retryAfterHdr != "" {
			h.Set("Retry-After", retryAfterHdr)
		}
		res, err := decodeBaibaoyun(status, h, body)
		if err == nil {
			if status == http.StatusBadRequest && res.Warning == "" {
				t.Fatalf("HTTP 400 accepted without the 4010 warning: %q", body)
			}
			return
		}
		e := AsError(err)
		if e == nil {
			t.Fatalf("error is not *Error: %v", err)
		}
		if e.Vendor != VendorBaibaoyun || e.Code == "" || e.Class == ClassOK || e.Class == ClassToken || e.Class > ClassPermanent || e.Class < 0 {
			t.Fatalf("bad error %+v", e)
		}
		if res != (RecordResult{}) {
			t.Fatalf("result %+v with error", res)
		}
		if len(e.Message) > maxMessage+len("…") {
			t.Fatalf("message of %d bytes", len(e.Message))
		}
	})
}

func TestJSONInt(t *testing.T) {
	for raw, want := range map[string]int{`4004`: 4004, `"4004"`: 4004, `4004.0`: 4004, `4.004e3`: 4004, ` -1 `: -1} {
		if got, ok := jsonInt([]byte(raw)); !ok || got != want {
			t.Errorf("jsonInt(%s) = %d, %v; want %d", raw, got, ok, want)
		}
	}
	for _, raw := range []string{``, `null`, `true`, `"x"`, `4004.5`, `1e20`, `"NaN"`, `"Inf"`, `{}`, `[4004]`, `40 04`} {
		if got, ok := jsonInt([]byte(raw)); ok {
			t.Errorf("jsonInt(%s) = %d, want no integer", raw, got)
		}
	}
}

// Finding 5 of issue 9: an empty body, {} and {"code":500,…} in a 2xx each
// counted as "record created" with an empty id, so a proxy answering 200
// dropped records silently. A 2xx is a success only when its body says so
// (decodeBaibaoyun); anything else is malformed, so the task is retried.
func TestBaibaoyun2xxMustSaySuccess(t *testing.T) {
	malformedWant := tblWant{class: ClassTransient, code: "malformed"}
	runTblCases(t, VendorBaibaoyun, func(status int, body []byte) (RecordResult, error) {
		return decodeBaibaoyun(status, nil, body)
	}, []tblCase{
		{"empty", 200, ``, malformedWant},
		{"blank", 200, " \n", malformedWant},
		{"{}", 200, `{}`, malformedWant},
		{"code 500", 200, `{"code":500,"message":"x"}`, malformedWant},
		{"code 500 with a record", 200, `{"code":500,"data":{"_id":"a"}}`, malformedWant},
		{"code 1", 201, `{"code":1,"message":"x"}`, malformedWant},
		{"null", 200, `null`, malformedWant},
		{"[]", 200, `[]`, malformedWant},
		{"a string", 200, `"ok"`, malformedWant},
		{"html", 200, `<html>ok</html>`, malformedWant},
		{"code 0 alone", 200, `{"code":0,"message":"ok"}`, malformedWant},
		{"code 0, data null", 200, `{"code":0,"data":null}`, malformedWant},
		{"code 0, data empty", 200, `{"code":0,"data":{}}`, malformedWant},
		{"code 0, empty id", 200, `{"code":0,"data":{"_id":""}}`, malformedWant},
		{"204 no content", 204, ``, malformedWant},
		{"simulator's success", 200, `{"code":0,"message":"ok","data":{"_id":"65a1f0c2e4b0a1b2c3d4e5f6"}}`, tblWant{class: ClassOK, id: "65a1f0c2e4b0a1b2c3d4e5f6"}},
		{"code 200 with data.id", 200, `{"code":200,"data":{"id":7}}`, tblWant{class: ClassOK, id: "7"}},
		{"no code, top-level _id", 201, `{"_id":"b2"}`, tblWant{class: ClassOK, id: "b2"}},
		{"code as text", 200, `{"code":"0","data":{"_id":"c3"}}`, tblWant{class: ClassOK, id: "c3"}},
		{"data without an id", 200, `{"code":0,"data":{"name":"张三"}}`, tblWant{class: ClassOK}},
		{"4010 in a 200", 200, `{"code":4010,"message":"m","data":{"_id":"d4"}}`, tblWant{class: ClassOK, id: "d4", warning: true}},
		{"4005 in a 200", 200, `{"code":4005,"message":"m"}`, tblWant{class: ClassQuota, code: "4005"}},
	})
}

// tblCase is one answer of a table vendor and what it must mean.
type tblCase struct {
	name   string
	status int
	body   string
	want   tblWant
}

// runTblCases decodes each case's answer and checks its outcome.
func runTblCases(t *testing.T, vendor string, decode func(status int, body []byte) (RecordResult, error), cases []tblCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := decode(tc.status, []byte(tc.body))
			checkTblOutcome(t, vendor, res, err, tc.want)
			if tc.want.code == "malformed" && !errors.Is(err, ErrMalformedAnswer) {
				t.Errorf("err = %v, want ErrMalformedAnswer", err)
			}
		})
	}
}

// The same over loopback: a proxy answering 200 {} is a transient error.
func TestBaibaoyunProxyAnswering200IsRetried(t *testing.T) {
	for _, body := range []string{``, `{}`, `{"code":500,"message":"x"}`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) }))
		c, _ := NewBaibaoyun(BaibaoyunConfig{BaseURL: srv.URL, APIKey: "k"})
		res, err := c.CreateRecord(context.Background(), "a/e", json.RawMessage(`{"x":1}`))
		srv.Close()
		checkTblOutcome(t, VendorBaibaoyun, res, err, tblWant{class: ClassTransient, code: "malformed"})
	}
}
