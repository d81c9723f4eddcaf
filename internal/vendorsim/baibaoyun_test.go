package vendorsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// bbyReply is the status, headers and decoded {code, message, data} of an answer.
type bbyReply struct {
	status int
	header http.Header
	Code   int             `json:"code"`
	Msg    string          `json:"message"`
	Data   json.RawMessage `json:"data"`
}

// bbyCall posts body to the simulator with the given Authorization header.
func bbyCall(t *testing.T, srv *httptest.Server, path, auth, body string) bbyReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := bbyReply{status: resp.StatusCode, header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("answer %q: %v", raw, err)
		}
	}
	return r
}

const bbyPath = "/api/v1/app/app1/entry/entry1/data_create"

func bbyAuth(s *Sim) string { return "Bearer " + s.Config().Baibaoyun.APIKey }

func TestBaibaoyunSimSuccessAndDuplicates(t *testing.T) {
	s := New(Config{})
	srv := httptest.NewServer(s)
	defer srv.Close()

	r := bbyCall(t, srv, bbyPath, bbyAuth(s), `{"data":{"b":1,"a":"x"}}`)
	var data struct {
		ID string `json:"_id"`
	}
	_ = json.Unmarshal(r.Data, &data)
	if r.status != 200 || r.Code != 0 || !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(data.ID) {
		t.Fatalf("answer %+v, want 200 code 0 with a 24-hex _id", r)
	}
	// Same record spelt differently: a duplicate. Same data in another form: not.
	bbyCall(t, srv, bbyPath, bbyAuth(s), `{"data": {"a": "x", "b": 1}}`)
	bbyCall(t, srv, "/api/v1/app/app1/entry/other/data_create", bbyAuth(s), `{"data":{"a":"x","b":1}}`)
	st := s.Stats()[TargetBaibaoyun]
	if st.Calls != 3 || st.Accepted != 3 || st.Duplicates != 1 || st.Codes["ok"] != 3 {
		t.Errorf("stats calls=%d accepted=%d duplicates=%d codes=%v", st.Calls, st.Accepted, st.Duplicates, st.Codes)
	}
}

func TestBaibaoyunSimAuth(t *testing.T) {
	s := New(Config{Baibaoyun: BaibaoyunConfig{APIKey: "k1", Rate: 1000}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, auth := range []string{"", "Bearer k2", "k1", "bearer k1", "Bearer k1x"} {
		r := bbyCall(t, srv, bbyPath, auth, `{"data":{}}`)
		if r.status != http.StatusUnauthorized || r.Code != 401 || r.Msg == "" {
			t.Errorf("Authorization %q: answer %+v, want HTTP 401 {code 401}", auth, r)
		}
	}
	if r := bbyCall(t, srv, bbyPath, "Bearer k1", `{"data":{}}`); r.status != 200 {
		t.Errorf("right key refused: %+v", r)
	}
	if st := s.Stats()[TargetBaibaoyun]; st.Codes["http_401"] != 5 || st.Accepted != 1 {
		t.Errorf("stats %v accepted=%d", st.Codes, st.Accepted)
	}
}

func TestBaibaoyunSimBadBody(t *testing.T) {
	s := New(Config{Baibaoyun: BaibaoyunConfig{Rate: 1000}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, body := range []string{``, `not json`, `{}`, `{"data":[1]}`, `{"data":"x"}`, `{"data":null}`, `[{"data":{}}]`} {
		r := bbyCall(t, srv, bbyPath, bbyAuth(s), body)
		if r.status != 400 || r.Code != 4001 || r.Msg != "接口参数不正确" {
			t.Errorf("body %q: answer %+v, want HTTP 400 code 4001", body, r)
		}
	}
	if st := s.Stats()[TargetBaibaoyun]; st.Accepted != 0 || st.Codes["4001"] != 7 {
		t.Errorf("stats %v", st.Codes)
	}
}

// TestBaibaoyunSimRateWindow drives the 1-second window with a fake clock.
func TestBaibaoyunSimRateWindow(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var off atomic.Int64
	s := New(Config{Now: func() time.Time { return t0.Add(time.Duration(off.Load())) }})
	srv := httptest.NewServer(s)
	defer srv.Close()
	call := func(at time.Duration) bbyReply {
		off.Store(int64(at))
		return bbyCall(t, srv, bbyPath, bbyAuth(s), `{"data":{"at":"`+at.String()+`"}}`)
	}
	for i := range 5 {
		if r := call(0); r.status != 200 {
			t.Fatalf("call %d within the rate: %+v", i+1, r)
		}
	}
	if r := call(0); r.status != 400 || r.Code != 4004 || r.Msg != "超出请求频率限制" {
		t.Errorf("6th call in the same second: %+v, want 400 code 4004", r)
	}
	// Refused calls count too: 7 arrivals in (−0.5 s, 0.5 s].
	if r := call(500 * time.Millisecond); r.Code != 4004 {
		t.Errorf("call at 0.5 s: %+v, want 4004", r)
	}
	// At 1 s the calls at 0 have left the window: only 0.5 s and this one remain.
	if r := call(time.Second); r.status != 200 {
		t.Errorf("call at 1 s: %+v, want 200", r)
	}
	if st := s.Stats()[TargetBaibaoyun]; st.Accepted != 6 || st.Codes["4004"] != 2 || st.MaxInWindow != 7 {
		t.Errorf("stats accepted=%d codes=%v maxInWindow=%d", st.Accepted, st.Codes, st.MaxInWindow)
	}
}

func TestBaibaoyunSimInjected(t *testing.T) {
	s := New(Config{Baibaoyun: BaibaoyunConfig{Rate: 1000}}) // many calls; the rate is not under test
	srv := httptest.NewServer(s)
	defer srv.Close()
	for code, msg := range bbyMessages {
		if code == "4010" {
			continue
		}
		if err := s.SetFault(TargetBaibaoyun, Fault{Code: code, Times: 1}); err != nil {
			t.Fatal(err)
		}
		r := bbyCall(t, srv, bbyPath, bbyAuth(s), `{"data":{}}`)
		if r.status != 400 || r.Msg != msg || strconv.Itoa(r.Code) != code {
			t.Errorf("injected %s: answer %+v", code, r)
		}
	}
	// The fault was used up: the next call succeeds.
	if r := bbyCall(t, srv, bbyPath, bbyAuth(s), `{"data":{}}`); r.status != 200 {
		t.Errorf("after Times ran out: %+v", r)
	}

	// 4010: the record is inserted, so it is counted as accepted.
	_ = s.SetFault(TargetBaibaoyun, Fault{Code: "4010", Times: 2})
	r := bbyCall(t, srv, bbyPath, bbyAuth(s), `{"data":{"k":1}}`)
	if r.status != 400 || r.Code != 4010 || !strings.HasPrefix(r.Msg, "数据插入成功") {
		t.Errorf("4010: %+v", r)
	}
	// ... but only for a valid request.
	if r := bbyCall(t, srv, bbyPath, bbyAuth(s), `{"data":[]}`); r.Code != 4001 {
		t.Errorf("4010 with a bad body: %+v, want 4001", r)
	}

	_ = s.SetFault(TargetBaibaoyun, Fault{Code: "http_429", RetryAfter: 2, Times: 1})
	if r := bbyCall(t, srv, bbyPath, bbyAuth(s), `{"data":{}}`); r.status != 429 || r.header.Get("Retry-After") != "2" {
		t.Errorf("http_429: status %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	st := s.Stats()[TargetBaibaoyun]
	if st.Codes["4010"] != 1 || st.Codes["http_429"] != 1 || st.Codes["9999"] != 1 || st.Accepted != 2 {
		t.Errorf("stats codes=%v accepted=%d", st.Codes, st.Accepted)
	}
}
