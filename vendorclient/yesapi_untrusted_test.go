package vendorclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// An answer whose _auth does not verify is permanent (never re-sent: the
// record may exist) and carries the answer itself, bounded and scrubbed, so
// that the dead-letter entry shows the operator what came back.
func TestYesapiUntrustedAnswerKeepsTheAnswerScrubbed(t *testing.T) {
	const key, secret = "APPKEY0123456789", "the-app-secret"
	long := strings.Repeat("长", 400) // 1200 bytes: beyond the message bound
	cases := []struct {
		name, body string
		wantIn     string // a part of the answer the message must show
	}{
		{"short", `{"ret":200,"data":{"err_code":0,"err_msg":"","id":9},"msg":"","_t":1,"_auth":"00"}`, `"id":9`},
		{"echoes the credentials", `{"ret":200,"data":{"err_code":0,"id":9},"msg":"key ` + key + ` secret ` + secret + `","_t":1,"_auth":"00"}`, "[redacted]"},
		{"long", `{"ret":200,"data":{"err_code":0,"id":9},"msg":"` + long + `","_t":1,"_auth":"00"}`, `{"ret":200`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(c.body)) }))
			defer hs.Close()
			cl, err := NewYesapi(YesapiConfig{BaseURL: hs.URL, AppKey: key, AppSecret: secret})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.CreateRecord(context.Background(), "t", json.RawMessage(`{"a":1}`))
			e := AsError(err)
			if e == nil || e.Class != ClassPermanent || e.Code != CodeUntrustedAnswer || !errors.Is(err, ErrUntrustedAnswer) {
				t.Fatalf("err = %#v, want permanent %s wrapping ErrUntrustedAnswer", err, CodeUntrustedAnswer)
			}
			text := err.Error()
			if !strings.Contains(text, c.wantIn) || !strings.Contains(text, "_auth does not match") {
				t.Errorf("error %q does not show the answer (%q)", text, c.wantIn)
			}
			if strings.Contains(text, secret) || strings.Contains(text, key) {
				t.Errorf("error carries a credential: %q", text)
			}
			if len(e.Message) > maxMessage+len(cutMark) {
				t.Errorf("message is %d bytes, over the bound", len(e.Message))
			}
		})
	}
}
