package vendorsim_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/vendorsim"
)

// The document's signing example (full-width ， and ： in the content).
const (
	caihSimDocJSON = `{"header":{"appkey":"6416b416c30b32fb306c26b7c8acbf69","startTime":"2017-03-22 09:37:20","appId":"6416b416c30b32fb306c26b7c8acbf6"},"body":{"msgid":"2c92825934837c4d0134837dcba00150","phones":"18507717847","content":"您好，您的手机验证码为：430237。","sign":"【XXXX】","subcode":"8528","sendtime":"201405051230"}}`
	caihSimDocSign = "D03170BA204C72CC84063090F6C92BB9"
)

var caihSimCST = time.FixedZone("CST", 8*3600)

// caihSimDocTime is the example's startTime.
var caihSimDocTime = time.Date(2017, 3, 22, 9, 37, 20, 0, caihSimCST)

type caihSimReq struct {
	Header caihSimReqHeader `json:"header"`
	Body   caihSimReqBody   `json:"body"`
}

type caihSimReqHeader struct {
	AppKey    string `json:"appkey"`
	StartTime string `json:"startTime"`
	AppID     string `json:"appId"`
}

type caihSimReqBody struct {
	MsgID    string `json:"msgid"`
	Phones   string `json:"phones"`
	Content  string `json:"content"`
	Sign     string `json:"sign"`
	Subcode  string `json:"subcode"`
	Sendtime string `json:"sendtime"`
}

// caihSimValid is a valid request stamped at 'at' for the default account.
func caihSimValid(at time.Time, msgid, phones string) caihSimReq {
	d := vendorsim.DefaultConfig().Caihcom
	return caihSimReq{
		Header: caihSimReqHeader{AppKey: d.AppKey, StartTime: at.In(caihSimCST).Format("2006-01-02 15:04:05"), AppID: d.AppID},
		Body:   caihSimReqBody{MsgID: msgid, Phones: phones, Content: "验证码：1234", Sign: "【X】"},
	}
}

func caihSimMarshal(t *testing.T, r caihSimReq) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// caihSimSign is the document's algorithm, written out again here.
func caihSimSign(token string, body []byte) string {
	sum := md5.Sum([]byte(token + string(body) + token))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

type caihSimAnswer struct {
	HTTP   int
	Retry  string
	Header struct {
		Status    int `json:"status"`
		Desc      string
		ErrorInfo *struct {
			Code    json.RawMessage `json:"code"`
			Message string          `json:"message"`
		} `json:"errorInfo"`
		Total   int   `json:"total"`
		Succ    int   `json:"succ"`
		OptTime int64 `json:"optTime"`
	} `json:"header"`
	Body json.RawMessage `json:"body"`
}

func (a caihSimAnswer) code() string {
	if a.Header.ErrorInfo == nil {
		return ""
	}
	return strings.Trim(string(a.Header.ErrorInfo.Code), `"`)
}

// caihSimPost sends body; sign "" = no sign header, "auto" = the correct one.
func caihSimPost(t *testing.T, url string, body []byte, sign, contentType string) caihSimAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/rest/sms/v1/smsService/singleSubmit", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sign == "auto" {
		sign = caihSimSign(vendorsim.DefaultConfig().Caihcom.AuthToken, body)
	}
	if sign != "" {
		req.Header.Set("sign", sign)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := caihSimAnswer{HTTP: resp.StatusCode, Retry: resp.Header.Get("Retry-After")}
	if resp.StatusCode != http.StatusOK {
		return a
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %q: %v", raw, err)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(a.Body), []byte("[")) {
		t.Fatalf("body is not an array: %s", raw)
	}
	if (a.Header.Status == 0) != (a.Header.ErrorInfo == nil) {
		t.Fatalf("errorInfo must be present exactly when status != 0: %s", raw)
	}
	return a
}

func caihSimStart(t *testing.T, cfg vendorsim.Config) (*vendorsim.Sim, string) {
	t.Helper()
	sim := vendorsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func TestCaihcomSimAcceptsTheDocumentExample(t *testing.T) {
	// The simulator's clock is 3 minutes after the example's startTime.
	sim, url := caihSimStart(t, vendorsim.Config{Now: func() time.Time { return caihSimDocTime.Add(3 * time.Minute) }})
	a := caihSimPost(t, url, []byte(caihSimDocJSON), caihSimDocSign, "application/json")
	if a.Header.Status != 0 || a.Header.Desc != "success" || a.Header.Total != 1 || a.Header.Succ != 1 {
		t.Fatalf("answer = %+v", a.Header)
	}
	var body []struct {
		MsgID  string `json:"msgid"`
		Phone  string `json:"phone"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(a.Body, &body); err != nil || len(body) != 1 || body[0].MsgID != "2c92825934837c4d0134837dcba00150" || body[0].Phone != "18507717847" || body[0].Status != 0 {
		t.Fatalf("body = %s (%v)", a.Body, err)
	}
	st := sim.Stats()[vendorsim.TargetCaihcom]
	if st.Calls != 1 || st.Accepted != 1 || st.Codes["ok"] != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestCaihcomSimRejects(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	_, url := caihSimStart(t, vendorsim.Config{Now: func() time.Time { return now }})
	mod := func(f func(*caihSimReq)) []byte {
		r := caihSimValid(now, "0123456789abcdef0123456789abcdef", "13800000001")
		f(&r)
		return caihSimMarshal(t, r)
	}
	valid := mod(func(*caihSimReq) {})
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, valid, "", "  "); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		body   []byte
		sign   string
		ct     string
		status int
		code   string
	}{
		{"valid", valid, "auto", "application/json", 0, ""},
		{"charset param", valid, "auto", "application/json; charset=utf-8", 0, ""},
		{"10 minutes old", mod(func(r *caihSimReq) {
			r.Header.StartTime = now.Add(-10 * time.Minute).In(caihSimCST).Format("2006-01-02 15:04:05")
		}), "auto", "application/json", 0, ""},
		{"wrong content type", valid, "auto", "text/plain", 2, "8102"},
		{"not json", []byte(`{"header":`), "auto", "application/json", 2, "8102"},
		{"whitespace between tokens", pretty.Bytes(), "auto", "application/json", 2, "8102"},
		{"empty appkey", mod(func(r *caihSimReq) { r.Header.AppKey = "" }), "auto", "application/json", 2, "8103"},
		{"empty appId", mod(func(r *caihSimReq) { r.Header.AppID = "" }), "auto", "application/json", 2, "8105"},
		{"unknown appkey", mod(func(r *caihSimReq) { r.Header.AppKey = "nope" }), "auto", "application/json", 2, "8301"},
		{"no sign", valid, "", "application/json", 2, "8302"},
		{"wrong sign", valid, caihSimDocSign, "application/json", 2, "8303"},
		{"lower-case sign", valid, strings.ToLower(caihSimSign(vendorsim.DefaultConfig().Caihcom.AuthToken, valid)), "application/json", 2, "8303"},
		{"unknown appId", mod(func(r *caihSimReq) { r.Header.AppID = "other" }), "auto", "application/json", 2, "8307"},
		{"no startTime", mod(func(r *caihSimReq) { r.Header.StartTime = "" }), "auto", "application/json", 2, "8304"},
		{"ISO startTime", mod(func(r *caihSimReq) { r.Header.StartTime = "2024-06-01T20:00:00" }), "auto", "application/json", 2, "8305"},
		{"one-digit hour", mod(func(r *caihSimReq) { r.Header.StartTime = "2024-06-01 8:00:00" }), "auto", "application/json", 2, "8305"},
		{"11 minutes old", mod(func(r *caihSimReq) {
			r.Header.StartTime = now.Add(-11 * time.Minute).In(caihSimCST).Format("2006-01-02 15:04:05")
		}), "auto", "application/json", 2, "8306"},
		{"11 minutes ahead", mod(func(r *caihSimReq) {
			r.Header.StartTime = now.Add(11 * time.Minute).In(caihSimCST).Format("2006-01-02 15:04:05")
		}), "auto", "application/json", 2, "8306"},
		{"UTC instead of CST", mod(func(r *caihSimReq) { r.Header.StartTime = now.Format("2006-01-02 15:04:05") }), "auto", "application/json", 2, "8306"},
		{"no phones", mod(func(r *caihSimReq) { r.Body.Phones = "" }), "auto", "application/json", 2, "8102"},
		{"no content", mod(func(r *caihSimReq) { r.Body.Content = "" }), "auto", "application/json", 2, "8102"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := caihSimPost(t, url, tc.body, tc.sign, tc.ct)
			if a.HTTP != http.StatusOK || a.Header.Status != tc.status || a.code() != tc.code {
				t.Fatalf("HTTP %d status %d code %q, want status %d code %q", a.HTTP, a.Header.Status, a.code(), tc.status, tc.code)
			}
			if tc.code != "" && a.Header.ErrorInfo.Message == "" {
				t.Fatal("errorInfo without a message")
			}
		})
	}
}

func TestCaihcomSimBalance(t *testing.T) {
	sim, url := caihSimStart(t, vendorsim.Config{Caihcom: vendorsim.CaihcomConfig{Balance: 2}})
	send := func(phone string) caihSimAnswer {
		return caihSimPost(t, url, caihSimMarshal(t, caihSimValid(time.Now(), "m1", phone)), "auto", "application/json")
	}
	for i, want := range []string{"", "", "8401"} {
		if a := send("1380000000" + string(rune('1'+i))); a.code() != want {
			t.Fatalf("send %d: code %q, want %q", i, a.code(), want)
		}
	}
	sim.SetCaihcomBalance(1)
	if a := send("13800000009"); a.Header.Status != 0 {
		t.Fatalf("after top-up: %+v", a.Header)
	}
	if a := send("13800000009"); a.code() != "8401" || a.Header.Status != 2 {
		t.Fatalf("balance used up: %+v", a.Header)
	}
	sim.Reset() // back to the configured balance
	if a := send("13800000009"); a.Header.Status != 0 {
		t.Fatalf("after reset: %+v", a.Header)
	}
	if got := sim.Stats()[vendorsim.TargetCaihcom].Codes["ok"]; got != 1 {
		t.Fatalf("ok after reset = %d", got)
	}
}

func TestCaihcomSimBadPhonesAndPartialFailure(t *testing.T) {
	sim, url := caihSimStart(t, vendorsim.Config{Caihcom: vendorsim.CaihcomConfig{BadPhones: []string{"13800000666"}}})
	a := caihSimPost(t, url, caihSimMarshal(t, caihSimValid(time.Now(), "m1", "13800000666")), "auto", "application/json")
	if a.Header.Status != 2 || a.code() != "9001" || a.Header.ErrorInfo.Message != "号码无效" {
		t.Fatalf("bad phone: %+v", a.Header)
	}
	a = caihSimPost(t, url, caihSimMarshal(t, caihSimValid(time.Now(), "m2", "13800000001,13800000666")), "auto", "application/json")
	if a.Header.Status != 1 || a.Header.Total != 2 || a.Header.Succ != 1 || a.code() != "9001" {
		t.Fatalf("partial: %+v", a.Header)
	}
	st := sim.Stats()[vendorsim.TargetCaihcom]
	if st.Accepted != 1 || st.Codes["9001"] != 2 || st.ByKey["m2:13800000001"] != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestCaihcomSimDuplicates(t *testing.T) {
	sim, url := caihSimStart(t, vendorsim.Config{})
	for _, r := range []struct{ msgid, phone string }{{"m1", "13800000001"}, {"m1", "13800000001"}, {"m1", "13800000002"}, {"m2", "13800000001"}} {
		if a := caihSimPost(t, url, caihSimMarshal(t, caihSimValid(time.Now(), r.msgid, r.phone)), "auto", "application/json"); a.Header.Status != 0 {
			t.Fatalf("%v: %+v", r, a.Header)
		}
	}
	st := sim.Stats()[vendorsim.TargetCaihcom]
	if st.Accepted != 4 || st.Duplicates != 1 || st.ByKey["m1:13800000001"] != 2 {
		t.Fatalf("stats = accepted %d duplicates %d keys %v", st.Accepted, st.Duplicates, st.ByKey)
	}
}

func TestCaihcomSimInjectedFaults(t *testing.T) {
	sim, url := caihSimStart(t, vendorsim.Config{})
	body := caihSimMarshal(t, caihSimValid(time.Now(), "m1", "13800000001"))
	cases := []struct {
		fault  vendorsim.Fault
		http   int
		status int
		code   string
	}{
		{vendorsim.Fault{Code: "8201", Times: 1}, 200, 2, "8201"},
		{vendorsim.Fault{Code: "8401", Times: 1}, 200, 2, "8401"},
		{vendorsim.Fault{Code: "8306", Times: 1}, 200, 2, "8306"},
		{vendorsim.Fault{Code: "800", Times: 1}, 200, 3, "800"},
		{vendorsim.Fault{Code: "status_1", Times: 1}, 200, 1, "9001"},
		{vendorsim.Fault{Code: "weird", Times: 1}, 200, 2, "weird"},
		{vendorsim.Fault{Code: "http_503", RetryAfter: 5, Times: 1}, 503, 0, ""},
	}
	for _, tc := range cases {
		if err := sim.SetFault(vendorsim.TargetCaihcom, tc.fault); err != nil {
			t.Fatal(err)
		}
		a := caihSimPost(t, url, body, "auto", "application/json")
		if a.HTTP != tc.http || a.Header.Status != tc.status || a.code() != tc.code {
			t.Fatalf("%s: HTTP %d status %d code %q", tc.fault.Code, a.HTTP, a.Header.Status, a.code())
		}
		if tc.http == 503 && a.Retry != "5" {
			t.Fatalf("Retry-After = %q", a.Retry)
		}
	}
	// Times: 1 each, so the next call is normal again.
	if a := caihSimPost(t, url, body, "auto", "application/json"); a.Header.Status != 0 {
		t.Fatalf("after faults: %+v", a.Header)
	}
	st := sim.Stats()[vendorsim.TargetCaihcom]
	for _, c := range []string{"8201", "8401", "8306", "800", "status_1", "weird", "http_503", "ok"} {
		if st.Codes[c] != 1 {
			t.Errorf("Codes[%s] = %d, want 1 (%v)", c, st.Codes[c], st.Codes)
		}
	}
	if st.Calls != int64(len(cases)+1) {
		t.Fatalf("calls = %d", st.Calls)
	}
}
