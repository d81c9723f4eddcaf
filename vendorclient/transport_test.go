package vendorclient

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// elsewhere is the server a hostile redirect points to: it counts what
// reaches it.
func elsewhere(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		_, _ = io.WriteString(w, `{"code":0,"data":{"_id":"stolen"}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

// callPaths are the requests of fc a test can aim an answer at: its
// business call, and its token request when it has one.
func callPaths(fc fakeClient) []string {
	if fc.tokenPath == "" {
		return []string{"business call"}
	}
	return []string{"business call", "token request"}
}

// vendorAnswering starts a fake vendor whose path (see callPaths) answers
// with answer; on "token request" every request gets it, the token's too.
func vendorAnswering(t *testing.T, fc fakeClient, path string, answer http.HandlerFunc) *httptest.Server {
	if path == "token request" {
		fc.tokenPath = ""
	}
	return fakeVendor(t, fc, answer)
}

// Finding 3 of issue 9: a vendor (or whatever answers in its place)
// redirecting to another port got the request re-sent there, credentials
// included, and the redirected 200 counted as success. Now no client of the
// four follows a redirect, whatever client the caller gives it: nothing
// reaches the target, and the call is a transient "redirect" error naming
// the target's host only.
func TestNoClientFollowsRedirects(t *testing.T) {
	for _, fc := range fakeClients() {
		for _, path := range callPaths(fc) {
			for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
				for _, own := range []bool{false, true} {
					name := fc.vendor + "/" + path + "/" + strconv.Itoa(status) + "/default client"
					if own {
						name = strings.Replace(name, "default client", "caller's following client", 1)
					}
					t.Run(name, func(t *testing.T) {
						target, got := elsewhere(t)
						// The Location's path and query carry a secret: only its host may show.
						loc := target.URL + "/steal/" + url.PathEscape(fc.secrets[0]) + "?k=" + url.QueryEscape(fc.secrets[0])
						redirect := func(w http.ResponseWriter, r *http.Request) {
							w.Header().Set("Location", loc)
							w.WriteHeader(status)
						}
						vendor := vendorAnswering(t, fc, path, redirect)
						var hc *http.Client
						if own {
							hc = followingClient(t)
						}
						_, err := fc.call(t, callCtx(t), vendor.URL, hc, 0)
						if n := got.Load(); n != 0 {
							t.Fatalf("the redirect target received %d requests", n)
						}
						e := assertVendorError(t, err, fc.vendor, ClassTransient, "redirect")
						if !errors.Is(err, ErrRedirect) {
							t.Errorf("err = %v, want ErrRedirect", err)
						}
						host := strings.TrimPrefix(target.URL, "http://")
						if !strings.Contains(e.Message, host) {
							t.Errorf("message %q does not name the target host %s", e.Message, host)
						}
						if strings.Contains(err.Error(), "/steal") || strings.Contains(err.Error(), "k=") {
							t.Errorf("error shows more of the Location than its host: %v", err)
						}
						assertErrorHasNoSecret(t, err, fc.secrets...)
					})
				}
			}
		}
	}
}

func TestRedirectErrorNamesHostOnly(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPost, "http://vendor.example:8080/api", nil)
	for _, tc := range []struct{ location, want string }{
		{"http://user:pass@evil.example:9000/x?token=abc", "evil.example:9000"},
		{"/moved?x=1", "vendor.example:8080"}, // relative: the vendor's own host
		{"", "no usable Location"},
		{"http://[::1", "no usable Location"},
	} {
		resp := &http.Response{StatusCode: http.StatusMovedPermanently, Header: http.Header{}, Request: req}
		if tc.location != "" {
			resp.Header.Set("Location", tc.location)
		}
		e := AsError(redirectError(VendorYesapi, resp))
		if e == nil || e.Class != ClassTransient || e.Code != "redirect" || !strings.HasSuffix(e.Message, tc.want) {
			t.Errorf("Location %q: %v, want a transient redirect ending %q", tc.location, e, tc.want)
		}
		for _, leak := range []string{"user", "pass", "token", "/x", "/moved", "x=1"} {
			if strings.Contains(e.Message, leak) {
				t.Errorf("Location %q: message %q shows %q", tc.location, e.Message, leak)
			}
		}
	}
}

func TestNewHTTPClientRefusesRedirects(t *testing.T) {
	if hc := NewHTTPClient(time.Second); hc.CheckRedirect == nil || !errors.Is(hc.CheckRedirect(nil, nil), http.ErrUseLastResponse) {
		t.Fatal("NewHTTPClient follows redirects")
	}
	// The caller's client is copied, never changed.
	mine := followingClient(t)
	tr := newTransport(VendorCaihcom, mine, 0)
	if mine.CheckRedirect(nil, nil) != nil || !errors.Is(tr.hc.CheckRedirect(nil, nil), http.ErrUseLastResponse) || tr.hc.Transport != mine.Transport {
		t.Fatal("the transport must use a copy of the caller's client with redirects refused")
	}
}

// An answer over 1 MiB is malformed (transient) for all four; before, two
// vendors cut it silently and decoded what was left.
func TestAnswerOverOneMiBIsMalformed(t *testing.T) {
	pad := strings.Repeat("a", maxAnswer)
	for _, fc := range fakeClients() {
		for _, path := range callPaths(fc) {
			t.Run(fc.vendor+"/"+path, func(t *testing.T) {
				huge := func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.WriteString(w, `{"pad":"`+pad+`"}`)
				}
				vendor := vendorAnswering(t, fc, path, huge)
				_, err := fc.call(t, callCtx(t), vendor.URL, nil, 0)
				e := assertVendorError(t, err, fc.vendor, ClassTransient, "malformed")
				if !errors.Is(err, ErrMalformedAnswer) || !strings.Contains(e.Message, "1 MiB") {
					t.Fatalf("err = %v, want ErrMalformedAnswer saying 1 MiB", err)
				}
			})
		}
	}
}

// An answer of exactly 1 MiB is still read whole.
func TestAnswerOfOneMiBIsRead(t *testing.T) {
	fc := fakeClients()[0] // baibaoyun
	head := `{"code":0,"data":{"_id":"r1"},"pad":"`
	body := head + strings.Repeat("a", maxAnswer-len(head)-2) + `"}`
	vendor := fakeVendor(t, fc, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) })
	if _, err := fc.call(t, callCtx(t), vendor.URL, nil, 0); err != nil {
		t.Fatalf("a 1 MiB answer: %v", err)
	}
}

// Every client bounds each call by its own Timeout, even with a caller's
// client that has none (caihcom and dhgjcloud used to set no deadline of
// their own).
func TestEveryCallHasItsOwnTimeout(t *testing.T) {
	for _, fc := range fakeClients() {
		for _, path := range callPaths(fc) {
			t.Run(fc.vendor+"/"+path, func(t *testing.T) {
				hold := func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.ReadAll(r.Body) // so that the server notices the client hanging up
					select {                  // until the client gives up (bounded)
					case <-r.Context().Done():
					case <-time.After(10 * time.Second):
					}
				}
				vendor := vendorAnswering(t, fc, path, hold)
				tr := &http.Transport{DisableCompression: true}
				t.Cleanup(tr.CloseIdleConnections)
				start := time.Now()
				_, err := fc.call(t, callCtx(t), vendor.URL, &http.Client{Transport: tr}, 150*time.Millisecond)
				assertVendorError(t, err, fc.vendor, ClassTransient, "timeout")
				if d := time.Since(start); d > 5*time.Second {
					t.Fatalf("took %v: the 150 ms timeout was not applied", d)
				}
			})
		}
	}
}
