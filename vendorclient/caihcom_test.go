package vendorclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York on hosts without zoneinfo

	"github.com/vendorq/vendorq/internal/vendorsim"
)

// The document's signing example, with the full-width ， and ： that make its
// published signature reproduce (the vendor document's copy shows ASCII ones).
const (
	caihDocToken   = "be737f12cfdf311ac048efc3f1b94eb1"
	caihDocContent = "您好\uff0c您的手机验证码为\uff1a430237。"
	caihDocJSON    = `{"header":{"appkey":"6416b416c30b32fb306c26b7c8acbf69","startTime":"2017-03-22 09:37:20","appId":"6416b416c30b32fb306c26b7c8acbf6"},"body":{"msgid":"2c92825934837c4d0134837dcba00150","phones":"18507717847","content":"您好，您的手机验证码为：430237。","sign":"【XXXX】","subcode":"8528","sendtime":"201405051230"}}`
	caihDocSign    = "D03170BA204C72CC84063090F6C92BB9"
	caihDocAppKey  = "6416b416c30b32fb306c26b7c8acbf69"
	caihDocAppID   = "6416b416c30b32fb306c26b7c8acbf6"
)

func caihDocSMS() SMS {
	return SMS{MsgID: "2c92825934837c4d0134837dcba00150", Phone: "18507717847", Content: caihDocContent,
		Sign: "【XXXX】", Subcode: "8528", Sendtime: "201405051230"}
}

func TestCaihcomSignVector(t *testing.T) {
	// 09:37:20 CST is 01:37:20 UTC: the encoder must convert, whatever zone it is given.
	start := time.Date(2017, 3, 22, 1, 37, 20, 0, time.UTC)
	body, err := EncodeCaihcomRequest(caihDocAppKey, caihDocAppID, start, caihDocSMS())
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != caihDocJSON {
		t.Fatalf("encoded body differs from the document's md5 input:\n got %s\nwant %s", body, caihDocJSON)
	}
	if got := CaihcomSign(caihDocToken, body); got != caihDocSign {
		t.Fatalf("sign = %s, want %s", got, caihDocSign)
	}
	// The ASCII punctuation of the vendor document's copy does not reproduce the vector.
	ascii := strings.NewReplacer("，", ",", "：", ":").Replace(caihDocJSON)
	if CaihcomSign(caihDocToken, []byte(ascii)) == caihDocSign {
		t.Fatal("ASCII punctuation should not reproduce the document's signature")
	}
}

func TestCaihcomEncodeNoHTMLEscape(t *testing.T) {
	m := caihDocSMS()
	m.Content = `a<b>&"c"`
	body, err := EncodeCaihcomRequest("k", "i", time.Unix(0, 0), m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"content":"a<b>&\"c\""`) || strings.HasSuffix(string(body), "\n") {
		t.Fatalf("body = %q", body)
	}
}

func TestCaihcomStartTimeIsCSTOnANewYorkHost(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// What time.Now returns on a TZ=America/New_York host: 2024-01-15 11:00:00 EST.
	now := time.Date(2024, 1, 15, 16, 0, 0, 0, time.UTC).In(ny)
	var (
		mu   sync.Mutex
		body []byte
		hdr  http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		body, hdr = b, r.Header.Clone()
		mu.Unlock()
		if r.URL.Path != "/rest/sms/v1/smsService/singleSubmit" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"header":{"status":0,"desc":"success","total":1,"succ":1,"optTime":1},"body":[]}`)
	}))
	defer srv.Close()
	c := caihClient(t, srv.URL, func(cfg *CaihcomConfig) { cfg.Now = func() time.Time { return now } })
	if err := c.Send(context.Background(), caihSMS("t1", "13800000001")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var req struct {
		Header struct {
			StartTime string `json:"startTime"`
		} `json:"header"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	if req.Header.StartTime != "2024-01-16 00:00:00" {
		t.Fatalf("startTime = %q, want 2024-01-16 00:00:00 (UTC+8)", req.Header.StartTime)
	}
	if got, want := hdr.Get("sign"), CaihcomSign(vendorsim.DefaultConfig().Caihcom.AuthToken, body); got != want {
		t.Fatalf("sign header = %q, want %q", got, want)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
}

func TestCaihcomMsgID(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	a := MsgID("task-1", "13800000001")
	if !hex32.MatchString(a) {
		t.Fatalf("MsgID = %q, want 32 lower-case hex", a)
	}
	if MsgID("task-1", "13800000001") != a {
		t.Fatal("MsgID is not deterministic")
	}
	for _, other := range []string{MsgID("task-1", "13800000002"), MsgID("task-2", "13800000001"), MsgID("task-", "113800000001")} {
		if other == a {
			t.Fatalf("MsgID collision: %s", other)
		}
	}
}

func TestCaihcomNewNamesMissingField(t *testing.T) {
	full := CaihcomConfig{AppKey: "k", AppID: "i", AuthToken: "s"}
	for field, mut := range map[string]func(*CaihcomConfig){
		"AppKey":    func(c *CaihcomConfig) { c.AppKey = "" },
		"AppID":     func(c *CaihcomConfig) { c.AppID = "" },
		"AuthToken": func(c *CaihcomConfig) { c.AuthToken = "" },
	} {
		cfg := full
		mut(&cfg)
		if _, err := NewCaihcom(cfg); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("missing %s: err = %v", field, err)
		}
	}
	if _, err := NewCaihcom(full); err != nil {
		t.Fatal(err)
	}
}

// caihAnswer builds a response with header.status and (when code != "") errorInfo.code.
func caihAnswerJSON(status int, code string) []byte {
	if code == "" {
		return []byte(fmt.Sprintf(`{"header":{"status":%d,"desc":"x","total":1,"succ":0,"optTime":3},"body":[]}`, status))
	}
	return []byte(fmt.Sprintf(`{"header":{"status":%d,"desc":"x","errorInfo":{"code":%s,"message":"m"},"total":1,"succ":0,"optTime":3},"body":[]}`, status, code))
}

func TestCaihcomClassification(t *testing.T) {
	type row struct {
		name   string
		status int
		body   []byte
		class  Class
		code   string
	}
	rows := []row{
		{"status 0", 200, caihAnswerJSON(0, ""), ClassOK, ""},
		{"800", 200, caihAnswerJSON(3, "800"), ClassTransient, "800"},
		{"800 under status 2", 200, caihAnswerJSON(2, "800"), ClassTransient, "800"},
		{"8201", 200, caihAnswerJSON(2, "8201"), ClassThrottled, "8201"},
		{"8202", 200, caihAnswerJSON(3, "8202"), ClassThrottled, "8202"},
		{"8203", 200, caihAnswerJSON(2, "8203"), ClassThrottled, "8203"},
		{"8401", 200, caihAnswerJSON(2, "8401"), ClassQuota, "8401"},
		{"8401 quoted", 200, caihAnswerJSON(2, `"8401"`), ClassQuota, "8401"},
		{"status 1", 200, caihAnswerJSON(1, "9001"), ClassPermanent, "status_1"},
		{"status 1 no code", 200, caihAnswerJSON(1, ""), ClassPermanent, "status_1"},
		{"status 2 no code", 200, caihAnswerJSON(2, ""), ClassPermanent, "status_2"},
		{"status 2 unknown code", 200, caihAnswerJSON(2, "9001"), ClassPermanent, "9001"},
		{"status 3 no code", 200, caihAnswerJSON(3, ""), ClassTransient, "status_3"},
		{"status 3 unknown code", 200, caihAnswerJSON(3, "9999"), ClassTransient, "9999"},
		{"status quoted", 200, []byte(`{"header":{"status":"0"},"body":[]}`), ClassOK, ""},
		{"body not an array", 200, []byte(`{"header":{"status":0},"body":{}}`), ClassOK, ""},
		{"HTTP 500", 500, []byte("oops"), ClassTransient, "http_500"},
		{"HTTP 429", 429, nil, ClassThrottled, "http_429"},
		{"HTTP 404", 404, nil, ClassPermanent, "http_404"},
		{"garbage", 200, []byte(`{"oops":`), ClassTransient, "malformed"},
		{"no header", 200, []byte(`{"body":[]}`), ClassTransient, "malformed"},
		{"no status", 200, []byte(`{"header":{"desc":"success"}}`), ClassTransient, "malformed"},
		{"unknown status", 200, caihAnswerJSON(7, ""), ClassTransient, "malformed"},
		{"array", 200, []byte(`[]`), ClassTransient, "malformed"},
	}
	for _, c := range []string{"8101", "8102", "8103", "8104", "8105", "8301", "8302", "8303", "8304", "8305", "8306", "8307"} {
		rows = append(rows, row{c, 200, caihAnswerJSON(2, c), ClassPermanent, c})
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			err := decodeCaihcom(r.status, http.Header{}, r.body)
			if got := ClassOf(err); got != r.class {
				t.Fatalf("class = %v, want %v (err %v)", got, r.class, err)
			}
			if err == nil {
				return
			}
			e := AsError(err)
			if e == nil || e.Code != r.code || e.Vendor != VendorCaihcom {
				t.Fatalf("err = %#v, want code %q", err, r.code)
			}
			if r.class == ClassThrottled && r.status == 200 && e.Delay < 10*time.Minute {
				t.Fatalf("Delay = %v, want ≥10m", e.Delay)
			}
			if r.code == "malformed" && !errors.Is(err, ErrMalformedAnswer) {
				t.Fatalf("malformed answer not ErrMalformedAnswer: %v", err)
			}
		})
	}
}

// caihClient returns a client for the simulator's default account at base.
func caihClient(t *testing.T, base string, mut ...func(*CaihcomConfig)) *Caihcom {
	t.Helper()
	d := vendorsim.DefaultConfig().Caihcom
	cfg := CaihcomConfig{BaseURL: base, AppKey: d.AppKey, AppID: d.AppID, AuthToken: d.AuthToken, Timeout: 5 * time.Second}
	for _, m := range mut {
		m(&cfg)
	}
	c, err := NewCaihcom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caihSMS(task, phone string) SMS {
	return SMS{MsgID: MsgID(task, phone), Phone: phone, Content: "您的验证码为：430237。", Sign: "【vendorq】"}
}

// caihSim starts the simulator on loopback.
func caihSim(t *testing.T, cfg vendorsim.Config) (*vendorsim.Sim, string) {
	t.Helper()
	sim := vendorsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func caihWant(t *testing.T, err error, class Class, code string) *Error {
	t.Helper()
	if got := ClassOf(err); got != class {
		t.Fatalf("class = %v, want %v (err %v)", got, class, err)
	}
	e := AsError(err)
	if e == nil || e.Code != code {
		t.Fatalf("err = %v, want code %q", err, code)
	}
	return e
}

func TestCaihcomSimSuccessAndDuplicates(t *testing.T) {
	sim, url := caihSim(t, vendorsim.Config{})
	c := caihClient(t, url)
	ctx := context.Background()
	first := caihSMS("task-1", "13800000001")
	for i := 0; i < 2; i++ { // a retry of the same (task, phone) reuses its msgid
		if err := c.Send(ctx, caihSMS("task-1", "13800000001")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Send(ctx, caihSMS("task-1", "13800000002")); err != nil {
		t.Fatal(err)
	}
	st := sim.Stats()[vendorsim.TargetCaihcom]
	if st.Accepted != 3 || st.Duplicates != 1 || st.Calls != 3 {
		t.Fatalf("stats = calls %d accepted %d duplicates %d, want 3/3/1", st.Calls, st.Accepted, st.Duplicates)
	}
	if n := st.ByKey[first.MsgID+":13800000001"]; n != 2 {
		t.Fatalf("ByKey[msgid:phone] = %d, want 2 (keys %v)", n, st.ByKey)
	}
	if len(st.ByKey) != 2 {
		t.Fatalf("different phones must have different msgids: %v", st.ByKey)
	}
}

func TestCaihcomSimBadInputNeverSent(t *testing.T) {
	sim, url := caihSim(t, vendorsim.Config{})
	c := caihClient(t, url)
	good := caihSMS("t", "13800000001")
	for name, m := range map[string]SMS{
		"no phone":   {MsgID: good.MsgID, Content: good.Content},
		"no content": {MsgID: good.MsgID, Phone: good.Phone},
		"no msgid":   {Phone: good.Phone, Content: good.Content},
		"two phones": {MsgID: good.MsgID, Phone: "13800000001,13800000002", Content: good.Content},
	} {
		err := c.Send(context.Background(), m)
		caihWant(t, err, ClassPermanent, "bad_input")
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: not ErrBadRequest: %v", name, err)
		}
	}
	if calls := sim.Stats()[vendorsim.TargetCaihcom].Calls; calls != 0 {
		t.Fatalf("bad input reached the vendor: %d calls", calls)
	}
}

func TestCaihcomSimThrottled(t *testing.T) {
	sim, url := caihSim(t, vendorsim.Config{})
	c := caihClient(t, url)
	for _, code := range []string{"8201", "8202", "8203"} {
		if err := sim.SetFault(vendorsim.TargetCaihcom, vendorsim.Fault{Code: code, Times: 1}); err != nil {
			t.Fatal(err)
		}
		e := caihWant(t, c.Send(context.Background(), caihSMS("t", "13800000001")), ClassThrottled, code)
		if e.Delay < 10*time.Minute {
			t.Fatalf("%s: Delay = %v, want ≥10m", code, e.Delay)
		}
	}
	if calls := sim.Stats()[vendorsim.TargetCaihcom].Calls; calls != 3 {
		t.Fatalf("calls = %d, want 3 (no internal retry on throttling)", calls)
	}
}

func TestCaihcomSimQuota(t *testing.T) {
	sim, url := caihSim(t, vendorsim.Config{})
	c := caihClient(t, url)
	sim.SetCaihcomBalance(1)
	if err := c.Send(context.Background(), caihSMS("t", "13800000001")); err != nil {
		t.Fatal(err)
	}
	caihWant(t, c.Send(context.Background(), caihSMS("t", "13800000002")), ClassQuota, "8401")
	sim.SetCaihcomBalance(0)
	caihWant(t, c.Send(context.Background(), caihSMS("t", "13800000003")), ClassQuota, "8401")
	// Injected 8401 renders the same way.
	sim.SetCaihcomBalance(-1)
	if err := sim.SetFault(vendorsim.TargetCaihcom, vendorsim.Fault{Code: "8401", Times: 1}); err != nil {
		t.Fatal(err)
	}
	caihWant(t, c.Send(context.Background(), caihSMS("t", "13800000004")), ClassQuota, "8401")
}

func TestCaihcomSimTransient(t *testing.T) {
	sim, url := caihSim(t, vendorsim.Config{})
	c := caihClient(t, url, func(cfg *CaihcomConfig) { cfg.Timeout = 200 * time.Millisecond })
	ctx := context.Background()
	cases := []struct {
		fault vendorsim.Fault
		code  string
	}{
		{vendorsim.Fault{Code: "800", Times: 1}, "800"},
		{vendorsim.Fault{Code: "http_503", Times: 1}, "http_503"},
		{vendorsim.Fault{Code: "garbage", Times: 1}, "malformed"},
		{vendorsim.Fault{Outage: true, Times: 1}, "conn"},
		{vendorsim.Fault{Latency: time.Second, Times: 1}, "timeout"},
	}
	for _, tc := range cases {
		if err := sim.SetFault(vendorsim.TargetCaihcom, tc.fault); err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		err := c.Send(ctx, caihSMS("t", "13800000001"))
		caihWant(t, err, ClassTransient, tc.code)
		if d := time.Since(begin); d > 3*time.Second {
			t.Fatalf("%s took %v; the client timeout is not honoured", tc.code, d)
		}
	}
	// Every fault was one call: transient answers are retried by the worker, not here.
	if calls := sim.Stats()[vendorsim.TargetCaihcom].Calls; calls != int64(len(cases)) {
		t.Fatalf("calls = %d, want %d", calls, len(cases))
	}
	if err := c.Send(ctx, caihSMS("t", "13800000001")); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
}

func TestCaihcomSimHTTP429RetryAfter(t *testing.T) {
	sim, url := caihSim(t, vendorsim.Config{})
	c := caihClient(t, url)
	if err := sim.SetFault(vendorsim.TargetCaihcom, vendorsim.Fault{Code: "http_429", RetryAfter: 7, Times: 1}); err != nil {
		t.Fatal(err)
	}
	e := caihWant(t, c.Send(context.Background(), caihSMS("t", "13800000001")), ClassThrottled, "http_429")
	if e.Delay != 7*time.Second {
		t.Fatalf("Delay = %v, want 7s", e.Delay)
	}
}

func TestCaihcomSim8306RetriedOnce(t *testing.T) {
	sim, url := caihSim(t, vendorsim.Config{})
	c := caihClient(t, url)
	if err := sim.SetFault(vendorsim.TargetCaihcom, vendorsim.Fault{Code: "8306", Times: 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), caihSMS("t", "13800000001")); err != nil {
		t.Fatalf("one 8306 then ok: %v", err)
	}
	st := sim.Stats()[vendorsim.TargetCaihcom]
	if st.Calls != 2 || st.Accepted != 1 || st.Codes["8306"] != 1 {
		t.Fatalf("stats = %+v, want 2 calls, 1 accepted, one 8306", st)
	}

	sim.Reset()
	if err := sim.SetFault(vendorsim.TargetCaihcom, vendorsim.Fault{Code: "8306"}); err != nil {
		t.Fatal(err)
	}
	caihWant(t, c.Send(context.Background(), caihSMS("t", "13800000001")), ClassPermanent, "8306")
	if calls := sim.Stats()[vendorsim.TargetCaihcom].Calls; calls != 2 {
		t.Fatalf("calls = %d, want exactly 2 (one fresh retry)", calls)
	}
}

func TestCaihcomSimClockSkew(t *testing.T) {
	sim, url := caihSim(t, vendorsim.Config{})
	behind := func(d time.Duration) func(*CaihcomConfig) {
		return func(cfg *CaihcomConfig) { cfg.Now = func() time.Time { return time.Now().Add(-d) } }
	}
	// 11 minutes behind: the simulator's real window check refuses both attempts.
	c := caihClient(t, url, behind(11*time.Minute))
	caihWant(t, c.Send(context.Background(), caihSMS("t", "13800000001")), ClassPermanent, "8306")
	st := sim.Stats()[vendorsim.TargetCaihcom]
	if st.Calls != 2 || st.Codes["8306"] != 2 || st.Accepted != 0 {
		t.Fatalf("stats = %+v, want 2 calls both 8306", st)
	}
	// 5 minutes behind is inside the 10-minute window.
	if err := caihClient(t, url, behind(5*time.Minute)).Send(context.Background(), caihSMS("t", "13800000001")); err != nil {
		t.Fatalf("5 minutes behind: %v", err)
	}
}

func TestCaihcomFreshStampOnRetry(t *testing.T) {
	token := vendorsim.DefaultConfig().Caihcom.AuthToken
	var (
		mu     sync.Mutex
		stamps []string
		bad    []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req struct {
			Header struct {
				StartTime string `json:"startTime"`
			} `json:"header"`
		}
		_ = json.Unmarshal(b, &req)
		mu.Lock()
		stamps = append(stamps, req.Header.StartTime)
		if r.Header.Get("sign") != CaihcomSign(token, b) {
			bad = append(bad, req.Header.StartTime)
		}
		n := len(stamps)
		mu.Unlock()
		if n == 1 {
			_, _ = w.Write(caihAnswerJSON(2, "8306"))
			return
		}
		_, _ = w.Write(caihAnswerJSON(0, ""))
	}))
	defer srv.Close()
	var tick sync.Mutex
	clock := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	c := caihClient(t, srv.URL, func(cfg *CaihcomConfig) {
		cfg.Now = func() time.Time { // each stamp is a minute later
			tick.Lock()
			defer tick.Unlock()
			clock = clock.Add(time.Minute)
			return clock
		}
	})
	if err := c.Send(context.Background(), caihSMS("t", "13800000001")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(stamps) != 2 || stamps[0] != "2024-05-01 08:01:00" || stamps[1] != "2024-05-01 08:02:00" {
		t.Fatalf("startTimes = %v, want two fresh CST stamps", stamps)
	}
	if len(bad) != 0 {
		t.Fatalf("requests with a stale signature: %v", bad)
	}
}

func TestCaihcomSimPermanent(t *testing.T) {
	cfg := vendorsim.Config{Caihcom: vendorsim.CaihcomConfig{BadPhones: []string{"13800000666"}}}
	sim, url := caihSim(t, cfg)
	const wrong = "0123456789abcdef0123456789abcdef"
	err := caihClient(t, url, func(c *CaihcomConfig) { c.AuthToken = wrong }).Send(context.Background(), caihSMS("t", "13800000001"))
	caihWant(t, err, ClassPermanent, "8303")
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), sim.Config().Caihcom.AuthToken) {
		t.Fatalf("error leaks the auth token: %v", err)
	}
	c := caihClient(t, url)
	caihWant(t, c.Send(context.Background(), caihSMS("t", "13800000666")), ClassPermanent, "9001")
	caihWant(t, caihClient(t, url, func(c *CaihcomConfig) { c.AppKey = "nope" }).Send(context.Background(), caihSMS("t", "13800000001")), ClassPermanent, "8301")

	// A partial failure is never re-sent, even for a one-phone request.
	if err := sim.SetFault(vendorsim.TargetCaihcom, vendorsim.Fault{Code: "status_1", Times: 1}); err != nil {
		t.Fatal(err)
	}
	before := sim.Stats()[vendorsim.TargetCaihcom].Calls
	caihWant(t, c.Send(context.Background(), caihSMS("t", "13800000001")), ClassPermanent, "status_1")
	if calls := sim.Stats()[vendorsim.TargetCaihcom].Calls - before; calls != 1 {
		t.Fatalf("status 1 caused %d calls, want 1", calls)
	}
	if err := sim.SetFault(vendorsim.TargetCaihcom, vendorsim.Fault{Code: "8307", Times: 1}); err != nil {
		t.Fatal(err)
	}
	caihWant(t, c.Send(context.Background(), caihSMS("t", "13800000001")), ClassPermanent, "8307")
}

func TestCaihcomContextCancel(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // so that the server notices the client hanging up
		arrived <- struct{}{}
		select { // hold the answer until the client gives up (bounded)
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	c := caihClient(t, srv.URL, func(cfg *CaihcomConfig) { cfg.Timeout = 0 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Send(ctx, caihSMS("t", "13800000001")) }()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("request never arrived")
	}
	cancel()
	select {
	case err := <-done:
		caihWant(t, err, ClassTransient, "canceled")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not return after cancel")
	}
	// An already cancelled context makes no call at all.
	if err := c.Send(ctx, caihSMS("t", "13800000001")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-arrived:
		t.Fatal("a cancelled Send reached the server")
	default:
	}
}

func FuzzDecodeCaihcom(f *testing.F) {
	f.Add(200, []byte(`{"header":{"status":0,"desc":"success","total":1,"succ":1,"optTime":31},"body":[{"msgid":"2c92825934837c4d0134837dcba00150","phone":"18507717847","status":0}]}`))
	f.Add(200, caihAnswerJSON(3, "800"))
	f.Add(200, []byte(`{"oops":`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		err := decodeCaihcom(status, http.Header{"Retry-After": {"3"}}, body)
		if err == nil {
			return
		}
		e := AsError(err)
		if e == nil {
			t.Fatalf("not a *Error: %v", err)
		}
		if e.Class <= ClassOK || e.Class > ClassPermanent || e.Vendor != VendorCaihcom || e.Code == "" {
			t.Fatalf("bad error: %#v", e)
		}
	})
}

// A 2xx other than 200 says nothing the document describes: malformed
// (transient), never permanent and never success.
func TestCaihcom2xxMustSaySuccess(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
	}{
		{204, ``},
		{201, `{"header":{"status":0},"body":[]}`},
		{200, ``},
		{200, `{}`},
		{200, `{"header":{}}`},
	} {
		err := decodeCaihcom(tc.status, http.Header{}, []byte(tc.body))
		if e := AsError(err); e == nil || e.Class != ClassTransient || e.Code != "malformed" || !errors.Is(err, ErrMalformedAnswer) {
			t.Errorf("HTTP %d %q: %v, want malformed", tc.status, tc.body, err)
		}
	}
}
