package vendorsim

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// yesReply is a decoded yesapi answer; Data stays raw for the _auth check.
type yesReply struct {
	status int
	header http.Header
	Ret    int             `json:"ret"`
	Data   json.RawMessage `json:"data"`
	Msg    string          `json:"msg"`
	T      *int64          `json:"_t"`
	Auth   string          `json:"_auth"`
}

// yesParams are a valid call's parameters for s's app, signed.
func yesParams(s *Sim, model, data string) url.Values {
	v := url.Values{"s": {"App.Table.Create"}, "model_name": {model}, "data": {data}, "app_key": {s.Config().Yesapi.AppKey}}
	yesResign(v, s.Config().Yesapi.AppSecret)
	return v
}

// yesResign sets sign as the document's Python sample computes it:
// values sorted by name, joined, secret appended, MD5 upper-case.
func yesResign(v url.Values, secret string) {
	v.Del("sign")
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	for i := range names { // insertion sort: independent of sort.Strings in the code under test
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	plain := ""
	for _, k := range names {
		plain += v.Get(k)
	}
	sum := md5.Sum([]byte(plain + secret))
	v.Set("sign", strings.ToUpper(hex.EncodeToString(sum[:])))
}

func yesPost(t *testing.T, srv *httptest.Server, form url.Values) yesReply {
	t.Helper()
	r, err := yesPostErr(srv, form)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// yesPostErr is yesPost for goroutines other than the test's.
func yesPostErr(srv *httptest.Server, form url.Values) (yesReply, error) {
	resp, err := srv.Client().PostForm(srv.URL+"/", form)
	if err != nil {
		return yesReply{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := yesReply{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, &r); err != nil {
			return r, fmt.Errorf("answer %q: %w", raw, err)
		}
	}
	return r, nil
}

// yesAuthOK checks _auth over the exact data text received.
func yesAuthOK(r yesReply, secret string) bool {
	if r.T == nil || r.Auth == "" {
		return false
	}
	sum := md5.Sum([]byte(string(r.Data) + strconv.FormatInt(*r.T, 10) + secret))
	return hex.EncodeToString(sum[:]) == r.Auth
}

type yesDataReply struct {
	ErrCode int    `json:"err_code"`
	ErrMsg  string `json:"err_msg"`
	ID      int64  `json:"id"`
}

func yesData(t *testing.T, r yesReply) yesDataReply {
	t.Helper()
	var d yesDataReply
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatalf("data %s: %v", r.Data, err)
	}
	return d
}

func TestYesapiSimSuccess(t *testing.T) {
	s := New(Config{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	secret := s.Config().Yesapi.AppSecret

	r := yesPost(t, srv, yesParams(s, "telephone", `{"mobile":"13088886666","mobile_status":"1"}`))
	if r.Ret != 200 || !yesAuthOK(r, secret) {
		t.Fatalf("answer %+v (data %s), want ret 200 with a valid _auth", r, r.Data)
	}
	if d := yesData(t, r); d.ErrCode != 0 || d.ID != 1 {
		t.Errorf("data %+v, want err_code 0 id 1", d)
	}
	// Same record spelt differently: a duplicate, and a new auto-increment id.
	r = yesPost(t, srv, yesParams(s, "telephone", `{ "mobile_status": "1", "mobile": "13088886666" }`))
	if d := yesData(t, r); r.Ret != 200 || d.ID != 2 {
		t.Errorf("second answer ret=%d data %s", r.Ret, r.Data)
	}
	yesPost(t, srv, yesParams(s, "other_table", `{"mobile":"13088886666","mobile_status":"1"}`))
	if st := s.Stats()[TargetYesapi]; st.Accepted != 3 || st.Duplicates != 1 || st.Codes["ok"] != 3 {
		t.Errorf("stats accepted=%d duplicates=%d codes=%v", st.Accepted, st.Duplicates, st.Codes)
	}
}

func TestYesapiSimRefusals(t *testing.T) {
	s := New(Config{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	secret := s.Config().Yesapi.AppSecret
	valid := func() url.Values { return yesParams(s, "t", `{"a":1}`) }
	cases := []struct {
		name    string
		form    func() url.Values
		ret     int
		errCode int
		signed  bool
	}{
		{"unknown service", func() url.Values { v := valid(); v.Set("s", "App.Table.Get"); yesResign(v, secret); return v }, 404, 0, true},
		{"no service", func() url.Values { v := valid(); v.Del("s"); yesResign(v, secret); return v }, 404, 0, true},
		{"wrong app_key", func() url.Values { v := valid(); v.Set("app_key", "X"); yesResign(v, secret); return v }, 406, 0, false},
		{"wrong sign", func() url.Values { v := valid(); v.Set("sign", "0123456789ABCDEF0123456789ABCDEF"); return v }, 409, 0, true},
		{"no sign", func() url.Values { v := valid(); v.Del("sign"); return v }, 409, 0, true},
		{"lower-case sign", func() url.Values { v := valid(); v.Set("sign", strings.ToLower(v.Get("sign"))); return v }, 409, 0, true},
		{"signed with another secret", func() url.Values { v := valid(); yesResign(v, "other"); return v }, 409, 0, true},
		{"param changed after signing", func() url.Values { v := valid(); v.Set("model_name", "u"); return v }, 409, 0, true},
		{"no model_name", func() url.Values { v := valid(); v.Del("model_name"); yesResign(v, secret); return v }, 400, 0, true},
		{"data not an object", func() url.Values { v := valid(); v.Set("data", `[1]`); yesResign(v, secret); return v }, 200, 1, true},
		{"data not JSON", func() url.Values { v := valid(); v.Set("data", `{"a":`); yesResign(v, secret); return v }, 200, 1, true},
		{"no data", func() url.Values { v := valid(); v.Del("data"); yesResign(v, secret); return v }, 200, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := yesPost(t, srv, tc.form())
			if r.status != 200 || r.Ret != tc.ret {
				t.Fatalf("HTTP %d ret %d (%s), want HTTP 200 ret %d", r.status, r.Ret, r.Msg, tc.ret)
			}
			if tc.ret != 200 && (r.Msg != yesRetMessages[tc.ret] || string(r.Data) != "[]") {
				t.Errorf("msg %q data %s, want the document's message and []", r.Msg, r.Data)
			}
			if tc.errCode != 0 {
				if d := yesData(t, r); d.ErrCode != tc.errCode || d.ErrMsg == "" {
					t.Errorf("data %+v, want err_code %d with a message", d, tc.errCode)
				}
			}
			if got := yesAuthOK(r, secret); got != tc.signed {
				t.Errorf("_auth valid = %v, want %v (answer %+v)", got, tc.signed, r)
			}
		})
	}
	if st := s.Stats()[TargetYesapi]; st.Accepted != 0 || st.Codes["409"] != 5 || st.Codes["err_code_1"] != 3 {
		t.Errorf("stats accepted=%d codes=%v", st.Accepted, st.Codes)
	}
}

// TestYesapiSimFormOnlyInBody: parameters in the URL are not read, and a
// GET never reaches the yesapi handler (the client must POST).
func TestYesapiSimFormOnlyInBody(t *testing.T) {
	s := New(Config{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	q := yesParams(s, "t", `{"a":1}`).Encode()
	resp, err := srv.Client().Post(srv.URL+"/?"+q, "application/x-www-form-urlencoded", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var r yesReply
	if err := json.Unmarshal(raw, &r); err != nil || r.Ret != 404 {
		t.Errorf("params in the URL: %s, want ret 404 (no service in the body)", raw)
	}
	resp, err = srv.Client().Get(srv.URL + "/?" + q)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := s.Stats()[TargetYesapi]; st.Calls != 1 || st.Accepted != 0 {
		t.Errorf("calls=%d accepted=%d, want the GET not to reach yesapi", st.Calls, st.Accepted)
	}
}

func TestYesapiSimInFlight(t *testing.T) {
	const maxInFlight, calls = 2, 6
	s := New(Config{Yesapi: YesapiConfig{MaxInFlight: maxInFlight}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	if err := s.SetFault(TargetYesapi, Fault{Latency: time.Second}); err != nil {
		t.Fatal(err)
	}
	rets := make([]int, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := yesPostErr(srv, yesParams(s, "t", `{"i":`+strconv.Itoa(i)+`}`))
			if err != nil {
				t.Error(err)
			}
			rets[i] = r.Ret
		}()
	}
	wg.Wait()
	ok, busy := 0, 0
	for _, r := range rets {
		switch r {
		case 200:
			ok++
		case 414:
			busy++
		default:
			t.Errorf("ret %d", r)
		}
	}
	if ok < 1 || ok > maxInFlight || busy != calls-ok {
		t.Errorf("ok=%d 414=%d, want 1..%d ok and the rest 414", ok, busy, maxInFlight)
	}
	// Every slot was given back.
	s.mu.Lock()
	left := s.yesInFlight
	s.mu.Unlock()
	if left != 0 {
		t.Errorf("%d calls still counted in flight", left)
	}
	s.ClearFaults()
	if r := yesPost(t, srv, yesParams(s, "t", `{"after":1}`)); r.Ret != 200 {
		t.Errorf("after the burst: ret %d", r.Ret)
	}
}

func TestYesapiSimInjected(t *testing.T) {
	s := New(Config{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	secret := s.Config().Yesapi.AppSecret
	inject := func(f Fault) {
		t.Helper()
		f.Times = 1
		if err := s.SetFault(TargetYesapi, f); err != nil {
			t.Fatal(err)
		}
	}
	for ret := range yesRetMessages {
		inject(Fault{Code: strconv.Itoa(ret)})
		if r := yesPost(t, srv, yesParams(s, "t", `{}`)); r.Ret != ret || r.Msg != yesRetMessages[ret] || !yesAuthOK(r, secret) {
			t.Errorf("injected %d: %+v", ret, r)
		}
	}
	inject(Fault{Code: "err_code_2"})
	r := yesPost(t, srv, yesParams(s, "t", `{}`))
	if d := yesData(t, r); r.Ret != 200 || d.ErrCode != 2 || d.ErrMsg != "应用层规则拦截" || !yesAuthOK(r, secret) {
		t.Errorf("err_code_2: %+v data %s", r, r.Data)
	}
	// PHP-style escapes in data: the signed text is not what Go would write.
	if !strings.Contains(string(r.Data), `\u5e94`) {
		t.Errorf("data %s, want \\u escapes as PHP writes them", r.Data)
	}

	inject(Fault{Code: "bad_auth"})
	r = yesPost(t, srv, yesParams(s, "t", `{"x":1}`))
	if d := yesData(t, r); r.Ret != 200 || d.ErrCode != 0 || r.Auth == "" || yesAuthOK(r, secret) {
		t.Errorf("bad_auth: %+v, want a success answer with a wrong _auth", r)
	}

	inject(Fault{Code: "http_503", RetryAfter: 4})
	if r := yesPost(t, srv, yesParams(s, "t", `{}`)); r.status != 503 || r.header.Get("Retry-After") != "4" {
		t.Errorf("http_503: status %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	st := s.Stats()[TargetYesapi]
	if st.Accepted != 1 || st.Codes["bad_auth"] != 1 || st.Codes["err_code_2"] != 1 || st.Codes["413"] != 1 || st.Codes["http_503"] != 1 {
		t.Errorf("stats accepted=%d codes=%v", st.Accepted, st.Codes)
	}
}

func TestYesPHPString(t *testing.T) {
	for in, want := range map[string]string{
		"":         `""`,
		"a/b\"c\\": `"a\/b\"c\\"`,
		"并发":       `"\u5e76\u53d1"`,
		"😀\n":      `"\ud83d\ude00\u000a"`,
	} {
		got := yesPHPString(in)
		var back string
		if got != want || json.Unmarshal([]byte(got), &back) != nil || back != in {
			t.Errorf("yesPHPString(%q) = %s (decodes to %q), want %s", in, got, back, want)
		}
	}
}
