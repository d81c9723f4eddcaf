package vendorclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/vendorsim"
)

// Credentials of the four clients in the transport tests. Each has
// characters that percent-encoding and JSON escaping change, so that an
// echo in any of those forms is caught too.
const (
	fakeBbyKey     = `bby-KEY+/&="0123"`
	fakeYesSecret  = `yes-SECRET+/&="4567"`
	fakeYesAppKey  = `YESAPPKEY+/=89abcdef`
	fakeDhgjSecret = `dhgj SECRET+/&="89ab"`
	fakeDhgjToken  = `tok-LIVE+/=cdef0123` // a token must be visible ASCII without spaces
	fakeCaihToken  = `caih-TOKEN+/&="4567"`
)

// fakeClient is one vendor's client as the transport tests drive it.
type fakeClient struct {
	vendor  string
	secrets []string // every credential that must never show in an error
	// tokenPath is the vendor's token endpoint ("" when it has none); the
	// fake vendor answers it with fakeDhgjToken unless a test says otherwise.
	tokenPath string
	// call makes one call to base with hc (nil = the client's default) and
	// timeout (0 = DefaultTimeout); warning is RecordResult.Warning.
	call func(t *testing.T, ctx context.Context, base string, hc *http.Client, timeout time.Duration) (warning string, err error)
}

// fakeClients returns the four clients, each with its own credentials.
func fakeClients() []fakeClient {
	return []fakeClient{
		{vendor: VendorBaibaoyun, secrets: []string{fakeBbyKey},
			call: func(t *testing.T, ctx context.Context, base string, hc *http.Client, timeout time.Duration) (string, error) {
				c, err := NewBaibaoyun(BaibaoyunConfig{BaseURL: base, APIKey: fakeBbyKey, HTTPClient: hc, Timeout: timeout})
				if err != nil {
					t.Fatal(err)
				}
				res, err := c.CreateRecord(ctx, "app1/entry1", json.RawMessage(`{"name":"张三"}`))
				return res.Warning, err
			}},
		{vendor: VendorYesapi, secrets: []string{fakeYesSecret, fakeYesAppKey},
			call: func(t *testing.T, ctx context.Context, base string, hc *http.Client, timeout time.Duration) (string, error) {
				c, err := NewYesapi(YesapiConfig{BaseURL: base, AppKey: fakeYesAppKey, AppSecret: fakeYesSecret, HTTPClient: hc, Timeout: timeout})
				if err != nil {
					t.Fatal(err)
				}
				res, err := c.CreateRecord(ctx, "telephone", json.RawMessage(`{"mobile":"13088886666"}`))
				return res.Warning, err
			}},
		{vendor: VendorDhgjcloud, secrets: []string{fakeDhgjSecret, fakeDhgjToken}, tokenPath: "/oauth/token",
			call: func(t *testing.T, ctx context.Context, base string, hc *http.Client, timeout time.Duration) (string, error) {
				c, err := NewDhgjcloud(DhgjcloudConfig{BaseURL: base, ClientID: "client-1", ClientSecret: fakeDhgjSecret,
					Redis: testRedis.Client(t, dhgjSharedDB(t)), TokenKey: dhgjNewKey(), HTTPClient: hc, Timeout: timeout})
				if err != nil {
					t.Fatal(err)
				}
				res, err := c.CreateRecord(ctx, "api/records", json.RawMessage(`{"name":"张三"}`))
				if lock, _ := c.rdb.Get(context.Background(), c.lockKey).Result(); lock != "" {
					// A token failure is shared with other processes through the lock.
					assertNoSecret(t, "the shared token failure", lock, fakeDhgjSecret, fakeDhgjToken)
				}
				return res.Warning, err
			}},
		{vendor: VendorCaihcom, secrets: []string{fakeCaihToken},
			call: func(t *testing.T, ctx context.Context, base string, hc *http.Client, timeout time.Duration) (string, error) {
				c, err := NewCaihcom(CaihcomConfig{BaseURL: base, AppKey: "appkey-1", AppID: "app-1", AuthToken: fakeCaihToken, HTTPClient: hc, Timeout: timeout})
				if err != nil {
					t.Fatal(err)
				}
				return "", c.Send(ctx, SMS{MsgID: MsgID("t", "13800000001"), Phone: "13800000001", Content: "您的验证码为：1。", Sign: "【vq】"})
			}},
	}
}

// fakeVendor starts a vendor on loopback: answer serves every request but
// the token endpoint of fc, which gets a valid token.
func fakeVendor(t *testing.T, fc fakeClient, answer http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fc.tokenPath != "" && r.URL.Path == fc.tokenPath {
			_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":43199}`, fakeDhgjToken)
			return
		}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// followingClient is a caller's client that would follow redirects (Go's
// default policy) and adds no Accept-Encoding (dhgjcloud refuses one that does).
func followingClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
}

// callCtx bounds a test call.
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// leakForms are the ways a secret could show: as is, percent-encoded,
// JSON-escaped (written here apart from redact.go on purpose).
func leakForms(secret string) []string {
	j, _ := json.Marshal(secret)
	return []string{secret, url.QueryEscape(secret), url.PathEscape(secret), string(j[1 : len(j)-1])}
}

// assertNoSecret fails when text shows any form of any secret, its first 8
// bytes anywhere, or any start of it just before a cut mark (what is left of
// a secret cut in half by the message bound).
func assertNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, f := range leakForms(s) {
			if strings.Contains(text, f[:min(len(f), 8)]) {
				t.Errorf("%s shows the secret %q (as %q): %s", what, s, f, text)
				return
			}
			for rest := text; ; {
				before, after, found := strings.Cut(rest, cutMark)
				if !found {
					break
				}
				for k := 1; k < len(f); k++ {
					if strings.HasSuffix(before, f[:k]) {
						t.Errorf("%s shows %q of the secret %q before a cut: %s", what, f[:k], s, text)
						return
					}
				}
				rest = after
			}
		}
	}
}

// assertErrorHasNoSecret checks everything an error shows: its text (every
// error of its chain), and each *Error field.
func assertErrorHasNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		assertNoSecret(t, fmt.Sprintf("error text (%T)", e), e.Error(), secrets...)
		assertNoSecret(t, "error %+v", fmt.Sprintf("%+v", e), secrets...)
	}
	if e := AsError(err); e != nil {
		assertNoSecret(t, "Error.Message", e.Message, secrets...)
		assertNoSecret(t, "Error.Code", e.Code, secrets...)
	}
}

// assertVendorError checks err is a transient *Error of vendor with code.
func assertVendorError(t *testing.T, err error, vendor string, class Class, code string) *Error {
	t.Helper()
	e := AsError(err)
	if e == nil {
		t.Fatalf("err = %v (%T), want a *Error %s/%s", err, err, class, code)
	}
	if e.Vendor != vendor || e.Class != class || e.Code != code {
		t.Fatalf("got %s %s/%s (%v), want %s %s/%s", e.Vendor, e.Class, e.Code, err, vendor, class, code)
	}
	return e
}

// The simulator still answers success in a form the 2xx rules accept.
func TestSimulatorSuccessAcceptedByEveryClient(t *testing.T) {
	sim := vendorsim.New(vendorsim.Config{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	sc := sim.Config()
	bby, _ := NewBaibaoyun(BaibaoyunConfig{BaseURL: srv.URL, APIKey: sc.Baibaoyun.APIKey})
	if res, err := bby.CreateRecord(callCtx(t), "a/e", json.RawMessage(`{"x":1}`)); err != nil || res.ID == "" {
		t.Errorf("baibaoyun: %+v, %v", res, err)
	}
	yes, _ := NewYesapi(YesapiConfig{BaseURL: srv.URL, AppKey: sc.Yesapi.AppKey, AppSecret: sc.Yesapi.AppSecret})
	if res, err := yes.CreateRecord(callCtx(t), "t", json.RawMessage(`{"x":1}`)); err != nil || res.ID == "" {
		t.Errorf("yesapi: %+v, %v", res, err)
	}
	dh, _ := NewDhgjcloud(DhgjcloudConfig{BaseURL: srv.URL, ClientID: sc.Dhgjcloud.ClientID, ClientSecret: sc.Dhgjcloud.ClientSecret,
		Redis: testRedis.Client(t, dhgjSharedDB(t)), TokenKey: dhgjNewKey()})
	if res, err := dh.CreateRecord(callCtx(t), "p", json.RawMessage(`{"x":1}`)); err != nil || res.ID == "" {
		t.Errorf("dhgjcloud: %+v, %v", res, err)
	}
	ca, _ := NewCaihcom(CaihcomConfig{BaseURL: srv.URL, AppKey: sc.Caihcom.AppKey, AppID: sc.Caihcom.AppID, AuthToken: sc.Caihcom.AuthToken})
	if err := ca.Send(callCtx(t), SMS{MsgID: MsgID("t", "13800000001"), Phone: "13800000001", Content: "x"}); err != nil {
		t.Errorf("caihcom: %v", err)
	}
}
