package vendorclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// echoForms are the ways a vendor (or a proxy) could quote a credential:
// as is, percent-encoded (an echoed form body or URL), JSON-escaped (an
// echoed JSON request inside the message), and cut in half by the message
// bound (a long message with the secret at the cut).
var echoForms = map[string]func(secret string) string{
	"raw":         func(s string) string { return "echo: " + s },
	"form body":   func(s string) string { return "echo: x=" + url.QueryEscape(s) + "&y=1" },
	"url path":    func(s string) string { return "echo: /p/" + url.PathEscape(s) },
	"json inside": func(s string) string { j, _ := json.Marshal(map[string]string{"k": s}); return "echo: " + string(j) },
	"cut":         func(s string) string { return strings.Repeat("é", (maxMessage-6)/2) + s },
}

// echoAnswer is one answer path of a vendor, with MSG where the vendor puts
// its message (replaced by a JSON string).
type echoAnswer struct {
	name   string
	status int
	body   string
	token  bool // on dhgjcloud's token endpoint (else its business call)
	ok     bool // a success whose warning quotes the message
}

var echoAnswers = map[string][]echoAnswer{
	VendorBaibaoyun: {
		{name: "400 4001", status: 400, body: `{"code":4001,"message":MSG}`},
		{name: "4010 warning", status: 400, body: `{"code":4010,"message":MSG,"data":{"_id":"r1"}}`, ok: true},
		{name: "4004 in a 200", status: 200, body: `{"code":4004,"message":MSG}`},
		{name: "401", status: 401, body: `{"code":401,"message":MSG}`},
		{name: "503", status: 503, body: `{"message":MSG}`},
		{name: "broken body", status: 400, body: `{"code": 9999, "message": MSG oops`},
	},
	VendorYesapi: {
		{name: "ret 409", status: 200, body: `{"ret":409,"data":[],"msg":MSG}`},
		{name: "err_code 1", status: 200, body: `{"ret":200,"data":{"err_code":1,"err_msg":MSG},"msg":""}`},
		{name: "HTTP 500 envelope", status: 500, body: `{"ret":500,"data":[],"msg":MSG}`},
	},
	VendorDhgjcloud: {
		{name: "token 400", status: 400, body: `{"error":"invalid_request","message":MSG}`, token: true},
		{name: "token 400 error field", status: 400, body: `{"error":MSG}`, token: true},
		{name: "token 429", status: 429, body: `{"message":MSG}`, token: true},
		{name: "token 500", status: 500, body: `{"message":MSG}`, token: true},
		{name: "business 400", status: 200, body: `{"code":400,"message":MSG}`},
		{name: "business 500", status: 200, body: `{"code":500,"message":MSG}`},
		{name: "HTTP 400", status: 400, body: `{"code":400,"message":MSG}`},
		{name: "HTTP 429", status: 429, body: `{"message":MSG}`},
		{name: "HTTP 401", status: 401, body: `{"error":"invalid_token","error_description":MSG}`},
		{name: "HTTP 500", status: 500, body: `{"error":MSG}`},
	},
	VendorCaihcom: {
		{name: "status 2 8303", status: 200, body: `{"header":{"status":2,"desc":"x","errorInfo":{"code":8303,"message":MSG}},"body":[]}`},
		{name: "status 2 8201", status: 200, body: `{"header":{"status":2,"errorInfo":{"code":8201,"message":MSG}},"body":[]}`},
		{name: "status 3 desc", status: 200, body: `{"header":{"status":3,"desc":MSG},"body":[]}`},
		{name: "status 1", status: 200, body: `{"header":{"status":1,"total":1,"succ":0,"errorInfo":{"code":9001,"message":MSG}},"body":[]}`},
	},
}

// Finding 4 of issue 9 (and the same for every vendor): a vendor echoing a
// credential in its message put it into the error, and so into logs, the
// dead-letter queue and /dlq. Every answer path of every client, every
// echo form and every credential: nothing of it shows.
func TestEchoedSecretsNeverShow(t *testing.T) {
	for _, fc := range fakeClients() {
		for _, ans := range echoAnswers[fc.vendor] {
			for formName, form := range echoForms {
				for _, secret := range fc.secrets {
					if ans.token && secret == fakeDhgjToken {
						continue // no token exists yet when the token endpoint answers
					}
					t.Run(fc.vendor+"/"+ans.name+"/"+formName+"/"+secret[:4], func(t *testing.T) {
						msg, _ := json.Marshal(form(secret))
						body := strings.Replace(ans.body, "MSG", string(msg), 1)
						answer := func(w http.ResponseWriter, r *http.Request) {
							w.WriteHeader(ans.status)
							_, _ = fmt.Fprint(w, body)
						}
						path := "business call"
						if ans.token {
							path = "token request"
						}
						warning, err := fc.call(t, callCtx(t), vendorAnswering(t, fc, path, answer).URL, nil, 0)
						if ans.ok {
							if err != nil || warning == "" {
								t.Fatalf("want a success with a warning, got %q, %v", warning, err)
							}
							assertNoSecret(t, "warning", warning, fc.secrets...)
							return
						}
						if AsError(err) == nil {
							t.Fatalf("err = %v, want a *Error", err)
						}
						assertErrorHasNoSecret(t, err, fc.secrets...)
					})
				}
			}
		}
	}
}

// The echo that finding 4 saw, end to end: the token endpoint answers 400
// quoting the form it received (so the client secret percent-encoded).
func TestDhgjTokenEndpointEchoingTheFormIsScrubbed(t *testing.T) {
	fc := fakeClients()[2]
	srv := vendorAnswering(t, fc, "token request", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		j, _ := json.Marshal("bad request: " + string(b))
		_, _ = fmt.Fprintf(w, `{"error":"invalid_request","message":%s}`, j)
	})
	_, err := fc.call(t, callCtx(t), srv.URL, nil, 0)
	e := assertVendorError(t, err, VendorDhgjcloud, ClassPermanent, "token_http_400")
	if !strings.Contains(e.Message, "client_id=client-1") || !strings.Contains(e.Message, redactedMark) {
		t.Errorf("message %q: want the echo kept with the secret replaced", e.Message)
	}
	assertErrorHasNoSecret(t, err, fc.secrets...)
}

// A business error echoing the bearer token (finding 4's second case).
func TestDhgjBusinessErrorEchoingTheTokenIsScrubbed(t *testing.T) {
	fc := fakeClients()[2]
	srv := fakeVendor(t, fc, func(w http.ResponseWriter, r *http.Request) {
		j, _ := json.Marshal("参数错误, Authorization: " + r.Header.Get("Authorization"))
		_, _ = fmt.Fprintf(w, `{"code":400,"message":%s}`, j)
	})
	_, err := fc.call(t, callCtx(t), srv.URL, nil, 0)
	e := assertVendorError(t, err, VendorDhgjcloud, ClassPermanent, "400")
	if e.Message != "参数错误, Authorization: bearer "+redactedMark {
		t.Errorf("message %q", e.Message)
	}
	assertErrorHasNoSecret(t, err, fc.secrets...)
}

func TestRedactorKeepsWhatErrorsMatch(t *testing.T) {
	const secret = "s3cret/+"
	rd := newRedactor(secret, "")
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused " + secret)}
	for _, tc := range []struct {
		name string
		err  error
		is   error
	}{
		{"malformed", &Error{Vendor: "v", Code: "malformed", Message: "m " + secret, Err: fmt.Errorf("%w: %s", ErrMalformedAnswer, secret)}, ErrMalformedAnswer},
		{"untrusted", &Error{Vendor: "v", Err: fmt.Errorf("%s: %w", url.QueryEscape(secret), ErrUntrustedAnswer)}, ErrUntrustedAnswer},
		{"canceled", transportError("v", fmt.Errorf("%s: %w", secret, context.Canceled)), context.Canceled},
		{"net error", transportError("v", &url.Error{Op: "Post", URL: "http://h/" + secret, Err: opErr}), opErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.err.Error()
			got := rd.scrub(tc.err)
			if !errors.Is(got, tc.is) {
				t.Errorf("scrubbed error no longer matches %v", tc.is)
			}
			var ne net.Error
			if tc.name == "net error" && !errors.As(got, &ne) {
				t.Error("scrubbed error no longer a net.Error")
			}
			assertErrorHasNoSecret(t, got, secret)
			if tc.err.Error() != before {
				t.Error("scrub changed the original error")
			}
		})
	}
	if err := rd.scrub(nil); err != nil {
		t.Fatalf("scrub(nil) = %v", err)
	}
	plain := errors.New("nothing secret")
	if got := rd.scrub(plain); !errors.Is(got, plain) || got.Error() != plain.Error() {
		t.Fatalf("scrub(%v) = %v", plain, got)
	}
}

func TestRedactorMessage(t *testing.T) {
	rd := newRedactor("abcdef123456", "abcdef1234567890", "zq9")
	for in, want := range map[string]string{
		"key abcdef1234567890 and zq9":  "key [redacted] and [redacted]", // longest first, one pass
		"no secret here":                "no secret here",
		"cut at abcdef12…":              "cut at [redacted]…",
		"cut but not a secret: xyw…":    "cut but not a secret: xyw…",
		"cut after z, a start of zq9…":  "cut after z, a start of [redacted]…", // a cut start of a secret is enough
		"abcdef12 not cut, not matched": "abcdef12 not cut, not matched",
	} {
		if got := rd.message(in); got != want {
			t.Errorf("message(%q) = %q, want %q", in, got, want)
		}
	}
	// A message cut by boundMessage with the secret straddling the cut.
	long := boundMessage(strings.Repeat("é", (maxMessage-6)/2) + "abcdef123456")
	if got := rd.message(long); strings.Contains(got, "abcdef") || !strings.HasSuffix(got, redactedMark+cutMark) {
		t.Errorf("straddled secret: %q", got)
	}
}

func TestBoundMessageKeepsCharactersWhole(t *testing.T) {
	for _, s := range []string{strings.Repeat("错", 400), strings.Repeat("a", maxMessage-1) + "错错", "ok"} {
		got := boundMessage(s)
		if !strings.HasPrefix(s, strings.TrimSuffix(got, cutMark)) || len(got) > maxMessage+len(cutMark) || !utf8Valid(got) {
			t.Errorf("boundMessage cut %d bytes into %q…", len(s), got[:min(len(got), 20)])
		}
	}
	if got := boundMessage("bad \xff byte"); got != "bad \uFFFD byte" {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "?") == s }
