package vendorclient

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/vendorsim"
)

// The JS sample's credentials (docs/vendors.md, yesapi).
const (
	yesDocAppKey = "16BD4337FB1D355902E0502AFCBFD4DF"
	yesDocSecret = "4c1402596e4cd017eeaO670df6f8B6783475b4ac8A32B4900f20abP2159711ad"
)

func TestYesapiSignMatchesVendorSamples(t *testing.T) {
	params := map[string]string{
		"s":          "App.Table.Create",
		"model_name": "article",
		"data":       `{"title":"123456"}`,
		"app_key":    yesDocAppKey,
	}
	// The samples sort the names (app_key < data < model_name < s), join the
	// values and append the secret; written out here by hand.
	plain := yesDocAppKey + `{"title":"123456"}` + "article" + "App.Table.Create" + yesDocSecret
	sum := md5.Sum([]byte(plain))
	want := strings.ToUpper(hex.EncodeToString(sum[:]))
	// Also computed outside Go (printf '%s' "$plain" | md5sum).
	const golden = "2C435B911CD3ADBC5C5640F37BA1025C"
	if want != golden {
		t.Fatalf("test vector broken: %s != %s", want, golden)
	}
	if got := YesapiSign(params, yesDocSecret); got != golden {
		t.Errorf("YesapiSign = %s, want %s", got, golden)
	}
	// sign itself never takes part.
	params["sign"] = "ANYTHING"
	if got := YesapiSign(params, yesDocSecret); got != golden {
		t.Errorf("YesapiSign with sign present = %s, want %s", got, golden)
	}
}

func TestYesapiAuth(t *testing.T) {
	data := `{"err_code":0,"err_msg":"","id":4}`
	sum := md5.Sum([]byte(data + "1657513450" + "sec"))
	if got, want := YesapiAuth([]byte(data), "1657513450", "sec"), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("YesapiAuth = %s, want %s", got, want)
	}
}

// yesSigned builds an answer around data's exact text, signed as the
// vendor documents (tests compute it with crypto/md5, not YesapiAuth).
func yesSigned(ret int, data, t, secret string) string {
	return yesAnswer(ret, data, t, yesTestAuth(data, t, secret))
}

func yesTestAuth(data, t, secret string) string {
	sum := md5.Sum([]byte(data + t + secret))
	return hex.EncodeToString(sum[:])
}

func yesAnswer(ret int, data, tRaw, auth string) string {
	return fmt.Sprintf(`{"ret":%d, "data": %s, "msg":"", "_t":%s, "_auth":"%s"}`, ret, data, tRaw, auth)
}

func TestYesapiAuthVerify(t *testing.T) {
	const secret = "sec"
	// Spaces and \u escapes: only the raw text, not a re-encoding, verifies.
	data := `{ "err_code" : 0, "err_msg" : "\u6210\u529f\/ok", "id" : 7 }`
	good := yesSigned(200, data, "1657513450", secret)
	cases := []struct {
		name string
		body string
		want tblWant
	}{
		{"valid", good, tblWant{class: ClassOK, id: "7"}},
		{"upper-case _auth", yesAnswer(200, data, "1657513450", strings.ToUpper(yesTestAuth(data, "1657513450", secret))), tblWant{class: ClassOK, id: "7"}},
		{"tampered id", strings.Replace(good, `"id" : 7`, `"id" : 8`, 1), tblWant{class: ClassPermanent, code: CodeUntrustedAnswer}},
		{"tampered _t", strings.Replace(good, `1657513450`, `1657513451`, 1), tblWant{class: ClassPermanent, code: CodeUntrustedAnswer}},
		{"other secret", yesSigned(200, data, "1657513450", "other"), tblWant{class: ClassPermanent, code: CodeUntrustedAnswer}},
		{"_t as a string", yesAnswer(200, data, `"1657513450"`, yesTestAuth(data, "1657513450", secret)), tblWant{class: ClassOK, id: "7"}},
		{"tampered err_code answer", strings.Replace(yesSigned(200, `{"err_code":1,"err_msg":"x"}`, "1", secret), `"err_code":1`, `"err_code":0`, 1), tblWant{class: ClassPermanent, code: CodeUntrustedAnswer}},
		{"signed error answer", yesSigned(414, `[]`, "1", secret), tblWant{class: ClassThrottled, code: "414"}},
		// A wrong secret spoils both our sign (ret 409) and our check of
		// _auth: the ret must still be reported, not untrusted_answer.
		{"error answer signed with another secret", yesSigned(409, `[]`, "1", "other"), tblWant{class: ClassPermanent, code: "409"}},
		{"no _auth (the doc's sample)", `{"ret":200,"data":{"err_code":0,"err_msg":"","id":4},"msg":""}`, tblWant{class: ClassOK, id: "4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := decodeYesapi(200, nil, []byte(c.body), secret)
			checkTblOutcome(t, VendorYesapi, res, err, c.want)
			if c.want.code == CodeUntrustedAnswer && !errors.Is(err, ErrUntrustedAnswer) {
				t.Errorf("err = %v, want ErrUntrustedAnswer", err)
			}
		})
	}
}

func TestYesapiClassification(t *testing.T) {
	type tc struct {
		name   string
		status int
		body   string
		want   tblWant
	}
	cases := []tc{}
	// Every documented ret code.
	documented := map[int]Class{
		400: ClassPermanent, 401: ClassPermanent, 402: ClassPermanent, 403: ClassPermanent,
		404: ClassPermanent, 406: ClassPermanent, 407: ClassPermanent, 408: ClassPermanent,
		409: ClassPermanent, 410: ClassPermanent, 411: ClassPermanent, 412: ClassPermanent,
		413: ClassQuota, 414: ClassThrottled, 415: ClassPermanent, 416: ClassPermanent,
		417: ClassPermanent, 500: ClassTransient,
	}
	for ret, class := range documented {
		body := `{"ret":` + strconv.Itoa(ret) + `,"data":[],"msg":"m"}`
		cases = append(cases, tc{"ret " + strconv.Itoa(ret), 200, body, tblWant{class: class, code: strconv.Itoa(ret)}})
	}
	cases = append(cases,
		tc{"doc sample response", 200, "{\n\"ret\": 200,\n\"data\": {\n\"err_code\": 0,\n\"err_msg\": \"\",\n\"id\": 4\n},\n\"msg\": \"\"\n}", tblWant{class: ClassOK, id: "4"}},
		tc{"python sample: id as a string", 200, `{"data":{"err_code":0,"err_msg":"","id":"6"},"msg":"\u5f53\u524d\u5c0f\u767d\u63a5\u53e3\uff1aApp.Table.Create","ret":200}`, tblWant{class: ClassOK, id: "6"}},
		tc{"err_code 1", 200, `{"ret":200,"data":{"err_code":1,"err_msg":"字段不存在"},"msg":""}`, tblWant{class: ClassPermanent, code: "err_code_1"}},
		tc{"err_code 2", 200, `{"ret":200,"data":{"err_code":2,"err_msg":"拦截"},"msg":""}`, tblWant{class: ClassPermanent, code: "err_code_2"}},
		tc{"err_code as a string", 200, `{"ret":200,"data":{"err_code":"1"}}`, tblWant{class: ClassPermanent, code: "err_code_1"}},
		tc{"undocumented err_code", 200, `{"ret":200,"data":{"err_code":9}}`, tblWant{class: ClassPermanent, code: "err_code_9"}},
		tc{"ret as a string", 200, `{"ret":"413","data":[]}`, tblWant{class: ClassQuota, code: "413"}},
		tc{"undocumented ret 405", 200, `{"ret":405,"data":[]}`, tblWant{class: ClassPermanent, code: "405"}},
		tc{"undocumented ret 503", 200, `{"ret":503,"data":[]}`, tblWant{class: ClassTransient, code: "503"}},
		tc{"no err_code", 200, `{"ret":200,"data":{"id":3}}`, tblWant{class: ClassTransient, code: "malformed"}},
		tc{"data not an object", 200, `{"ret":200,"data":[]}`, tblWant{class: ClassTransient, code: "malformed"}},
		tc{"no data", 200, `{"ret":200}`, tblWant{class: ClassTransient, code: "malformed"}},
		tc{"no ret", 200, `{"data":{"err_code":0}}`, tblWant{class: ClassTransient, code: "malformed"}},
		tc{"garbage", 200, `{"oops":`, tblWant{class: ClassTransient, code: "malformed"}},
		tc{"null", 200, `null`, tblWant{class: ClassTransient, code: "malformed"}},
		tc{"HTTP 414 URI too long", 414, `<html>414 Request-URI Too Large</html>`, tblWant{class: ClassPermanent, code: "http_414"}},
		tc{"HTTP 429", 429, ``, tblWant{class: ClassThrottled, code: "http_429"}},
		tc{"HTTP 502", 502, `<html>`, tblWant{class: ClassTransient, code: "http_502"}},
		tc{"HTTP 500 with the envelope", 500, `{"ret":500,"data":[],"msg":"err"}`, tblWant{class: ClassTransient, code: "500"}},
		tc{"HTTP 406 with the envelope", 406, `{"ret":406,"data":[],"msg":"err"}`, tblWant{class: ClassPermanent, code: "406"}},
		tc{"HTTP 503 claiming ret 200", 503, `{"ret":200,"data":{"err_code":0,"id":1}}`, tblWant{class: ClassTransient, code: "http_503"}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := decodeYesapi(c.status, nil, []byte(c.body), "sec")
			checkTblOutcome(t, VendorYesapi, res, err, c.want)
		})
	}
	// Messages: the vendor's msg, else the document's text; err_msg for err_code.
	_, err := decodeYesapi(200, nil, []byte(`{"ret":413,"data":[]}`), "s")
	if e := AsError(err); e == nil || e.Message != "本月接口流量超出，已被临时冻结" {
		t.Errorf("413 message: %v", err)
	}
	_, err = decodeYesapi(200, nil, []byte(`{"ret":200,"data":{"err_code":1,"err_msg":"\u5b57\u6bb5"}}`), "s")
	if e := AsError(err); e == nil || e.Message != "字段" {
		t.Errorf("err_code 1 message: %v", err)
	}
	h := http.Header{"Retry-After": {"4"}}
	if _, err = decodeYesapi(200, h, []byte(`{"ret":414,"data":[]}`), "s"); AsError(err) == nil || AsError(err).Delay != 4*time.Second {
		t.Errorf("414 with Retry-After: %v", err)
	}
}

func TestNewYesapiErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  YesapiConfig
		name string
	}{
		{YesapiConfig{AppSecret: "s"}, "AppKey"},
		{YesapiConfig{AppKey: "k"}, "AppSecret"},
		{YesapiConfig{AppKey: "k", AppSecret: "s", BaseURL: "api.okayapi.com"}, "BaseURL"},
		{YesapiConfig{AppKey: "k", AppSecret: "s", BaseURL: "http://h/?s=x"}, "BaseURL"},
	} {
		if _, err := NewYesapi(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%+v: err = %v, want it to name %s", tc.cfg, err, tc.name)
		}
	}
	c, err := NewYesapi(YesapiConfig{AppKey: "k", AppSecret: "s"})
	if err != nil || c.url != "http://api.okayapi.com/" {
		t.Errorf("default url %q, err %v", c.url, err)
	}
	c, _ = NewYesapi(YesapiConfig{AppKey: "k", AppSecret: "s", BaseURL: "http://h:1"})
	if c.url != "http://h:1/" {
		t.Errorf("url %q, want a trailing slash", c.url)
	}
}

func TestYesapiWireFormat(t *testing.T) {
	const key, secret = "K123", "S456"
	type seen struct {
		method, path, query, ctype string
		form                       map[string]string
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, ctype: r.Header.Get("Content-Type"), form: map[string]string{}}
		_ = r.ParseForm()
		for k := range r.PostForm {
			s.form[k] = r.PostForm.Get(k)
		}
		got <- s
		_, _ = fmt.Fprint(w, yesSigned(200, `{"err_code":0,"err_msg":"","id":12}`, "1700000000", secret))
	}))
	defer srv.Close()
	c, err := NewYesapi(YesapiConfig{BaseURL: srv.URL, AppKey: key, AppSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.CreateRecord(context.Background(), "okayapi_message", json.RawMessage(`{ "message_nickname": "test & 测试", "message_key": "aba" }`))
	if err != nil || res.ID != "12" {
		t.Fatalf("res=%+v err=%v, want ID 12", res, err)
	}
	s := <-got
	if s.method != http.MethodPost || s.path != "/" || s.query != "" || s.ctype != "application/x-www-form-urlencoded" {
		t.Errorf("request %s %s?%s %s, want POST / with a form body and no query", s.method, s.path, s.query, s.ctype)
	}
	data := `{"message_nickname":"test & 测试","message_key":"aba"}`
	sum := md5.Sum([]byte(key + data + "okayapi_message" + "App.Table.Create" + secret))
	want := map[string]string{
		"s": "App.Table.Create", "model_name": "okayapi_message", "data": data, "app_key": key,
		"sign": strings.ToUpper(hex.EncodeToString(sum[:])),
	}
	if fmt.Sprint(s.form) != fmt.Sprint(want) {
		t.Errorf("form\n got %v\nwant %v", s.form, want)
	}
	if strings.Contains(fmt.Sprint(s.form), secret) {
		t.Error("the secret was sent")
	}
}

func TestYesapiBadInputNeverCalls(t *testing.T) {
	sim, c := newYesLoop(t, vendorsim.Config{}, "", 0)
	for _, tc := range []struct {
		model string
		data  string
	}{
		{"", `{"a":1}`}, {"m\x01", `{"a":1}`}, {"m", ``}, {"m", `[1]`}, {"m", `"x"`}, {"m", `null`}, {"m", `{"a"`},
	} {
		_, err := c.CreateRecord(context.Background(), tc.model, json.RawMessage(tc.data))
		e := AsError(err)
		if e == nil || e.Class != ClassPermanent || e.Code != "bad_input" || !errors.Is(err, ErrBadRequest) {
			t.Errorf("model=%q data=%q: err = %v, want permanent bad_input", tc.model, tc.data, err)
		}
	}
	if n := sim.Stats()[vendorsim.TargetYesapi].Calls; n != 0 {
		t.Errorf("bad input reached the vendor %d times", n)
	}
}

// newYesLoop starts the simulator and a client aimed at it; secret ""
// means the simulator's own.
func newYesLoop(t *testing.T, cfg vendorsim.Config, secret string, timeout time.Duration) (*vendorsim.Sim, *Yesapi) {
	t.Helper()
	sim := vendorsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	if secret == "" {
		secret = sim.Config().Yesapi.AppSecret
	}
	c, err := NewYesapi(YesapiConfig{BaseURL: srv.URL, AppKey: sim.Config().Yesapi.AppKey, AppSecret: secret, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

func TestYesapiLoopback(t *testing.T) {
	cases := []struct {
		name   string
		fault  *vendorsim.Fault
		secret string
		want   tblWant
		stored bool
	}{
		{"success", nil, "", tblWant{class: ClassOK, id: "1"}, true},
		{"413 quota", &vendorsim.Fault{Code: "413"}, "", tblWant{class: ClassQuota, code: "413"}, false},
		{"414 throttled", &vendorsim.Fault{Code: "414"}, "", tblWant{class: ClassThrottled, code: "414"}, false},
		{"500 transient", &vendorsim.Fault{Code: "500"}, "", tblWant{class: ClassTransient, code: "500"}, false},
		{"407 permanent", &vendorsim.Fault{Code: "407"}, "", tblWant{class: ClassPermanent, code: "407"}, false},
		{"409 wrong secret", nil, "not-the-secret", tblWant{class: ClassPermanent, code: "409"}, false},
		{"err_code 1", &vendorsim.Fault{Code: "err_code_1"}, "", tblWant{class: ClassPermanent, code: "err_code_1"}, false},
		{"err_code 2", &vendorsim.Fault{Code: "err_code_2"}, "", tblWant{class: ClassPermanent, code: "err_code_2"}, false},
		// The record was created but the answer cannot be believed.
		{"bad _auth", &vendorsim.Fault{Code: "bad_auth"}, "", tblWant{class: ClassPermanent, code: CodeUntrustedAnswer}, true},
		{"http 503", &vendorsim.Fault{Code: "http_503", RetryAfter: 2}, "", tblWant{class: ClassTransient, code: "http_503", delay: 2 * time.Second}, false},
		{"garbage", &vendorsim.Fault{Code: "garbage"}, "", tblWant{class: ClassTransient, code: "malformed"}, false},
		{"outage", &vendorsim.Fault{Outage: true}, "", tblWant{class: ClassTransient, code: "conn"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, c := newYesLoop(t, vendorsim.Config{}, tc.secret, 5*time.Second)
			if tc.fault != nil {
				if err := sim.SetFault(vendorsim.TargetYesapi, *tc.fault); err != nil {
					t.Fatal(err)
				}
			}
			res, err := c.CreateRecord(context.Background(), "telephone", json.RawMessage(`{"mobile":"13088886666","mobile_status":"1"}`))
			checkTblOutcome(t, VendorYesapi, res, err, tc.want)
			if err != nil && strings.Contains(err.Error(), sim.Config().Yesapi.AppSecret) {
				t.Errorf("error carries the secret: %v", err)
			}
			st := sim.Stats()[vendorsim.TargetYesapi]
			if st.Calls != 1 || (st.Accepted == 1) != tc.stored {
				t.Errorf("calls=%d accepted=%d, want 1 call, stored=%v", st.Calls, st.Accepted, tc.stored)
			}
		})
	}
}

func TestYesapiLoopbackWrongAppKey(t *testing.T) {
	sim := vendorsim.New(vendorsim.Config{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, _ := NewYesapi(YesapiConfig{BaseURL: srv.URL, AppKey: "0000000000000000000000000000000X", AppSecret: "x"})
	res, err := c.CreateRecord(context.Background(), "t", json.RawMessage(`{}`))
	checkTblOutcome(t, VendorYesapi, res, err, tblWant{class: ClassPermanent, code: "406"})
}

// TestYesapiLoopbackInFlight really exceeds the concurrency cap: every
// call is held 1 s by a latency fault while the others arrive.
func TestYesapiLoopbackInFlight(t *testing.T) {
	const maxInFlight, calls = 2, 6
	sim, c := newYesLoop(t, vendorsim.Config{Yesapi: vendorsim.YesapiConfig{MaxInFlight: maxInFlight}}, "", 10*time.Second)
	if err := sim.SetFault(vendorsim.TargetYesapi, vendorsim.Fault{Latency: time.Second}); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.CreateRecord(context.Background(), "t", json.RawMessage(`{"i":`+strconv.Itoa(i)+`}`))
		}()
	}
	wg.Wait()
	ok, throttled := 0, 0
	for _, err := range errs {
		switch e := AsError(err); {
		case err == nil:
			ok++
		case e != nil && e.Class == ClassThrottled && e.Code == "414":
			throttled++
		default:
			t.Errorf("unexpected answer: %v", err)
		}
	}
	if ok < 1 || ok > maxInFlight || throttled != calls-ok {
		t.Errorf("ok=%d throttled=%d, want 1..%d ok and the rest 414", ok, throttled, maxInFlight)
	}
	if st := sim.Stats()[vendorsim.TargetYesapi]; st.Codes["414"] != int64(throttled) {
		t.Errorf("simulator counted %d ret 414, client saw %d", st.Codes["414"], throttled)
	}
}

func TestYesapiLoopbackTimeout(t *testing.T) {
	sim, c := newYesLoop(t, vendorsim.Config{}, "", 150*time.Millisecond)
	if err := sim.SetFault(vendorsim.TargetYesapi, vendorsim.Fault{Latency: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := c.CreateRecord(context.Background(), "t", json.RawMessage(`{"x":1}`))
	checkTblOutcome(t, VendorYesapi, res, err, tblWant{class: ClassTransient, code: "timeout"})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, the 150ms timeout was not applied", d)
	}
}

func TestYesapiContextCanceled(t *testing.T) {
	assertCancelHonoured(t, vendorsim.TargetYesapi, func(ctx context.Context, sim *vendorsim.Sim, base string) error {
		c, _ := NewYesapi(YesapiConfig{BaseURL: base, AppKey: sim.Config().Yesapi.AppKey, AppSecret: sim.Config().Yesapi.AppSecret})
		_, err := c.CreateRecord(ctx, "t", json.RawMessage(`{"x":1}`))
		return err
	})
}

// FuzzDecodeYesapi: no answer makes the decoder panic, every error is a
// yesapi *Error with a class the worker knows, and success needs HTTP 200.
func FuzzDecodeYesapi(f *testing.F) {
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		res, err := decodeYesapi(status, nil, body, "fuzz-secret")
		if err == nil {
			if status != http.StatusOK {
				t.Fatalf("HTTP %d accepted", status)
			}
			return
		}
		e := AsError(err)
		if e == nil {
			t.Fatalf("error is not *Error: %v", err)
		}
		if e.Vendor != VendorYesapi || e.Code == "" || e.Class == ClassOK || e.Class == ClassToken || e.Class > ClassPermanent || e.Class < 0 {
			t.Fatalf("bad error %+v", e)
		}
		if res != (RecordResult{}) {
			t.Fatalf("result %+v with error", res)
		}
		if e.Code == CodeUntrustedAnswer && !errors.Is(err, ErrUntrustedAnswer) {
			t.Fatalf("untrusted_answer without ErrUntrustedAnswer")
		}
	})
}

// A 2xx says success only with ret 200, err_code 0 and the new row's id
// (the document's answer); anything else in a 2xx is malformed.
func TestYesapi2xxMustSaySuccess(t *testing.T) {
	runTblCases(t, VendorYesapi, func(status int, body []byte) (RecordResult, error) {
		return decodeYesapi(status, nil, body, "sec")
	}, []tblCase{
		{"err_code 0 without id", 200, `{"ret":200,"data":{"err_code":0,"err_msg":""},"msg":""}`, tblWant{class: ClassTransient, code: "malformed"}},
		{"err_code 0, id null", 200, `{"ret":200,"data":{"err_code":0,"id":null}}`, tblWant{class: ClassTransient, code: "malformed"}},
		{"HTTP 201 claiming success", 201, `{"ret":200,"data":{"err_code":0,"id":1}}`, tblWant{class: ClassTransient, code: "malformed"}},
		{"HTTP 204", 204, ``, tblWant{class: ClassTransient, code: "malformed"}},
		{"HTTP 201 with an error ret", 201, `{"ret":413,"data":[]}`, tblWant{class: ClassQuota, code: "413"}},
		{"the document's answer", 200, `{"ret":200,"data":{"err_code":0,"err_msg":"","id":4},"msg":""}`, tblWant{class: ClassOK, id: "4"}},
	})
}
