package vendorclient

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// The one HTTP exchange of the four clients. Whatever the vendor, a call:
//   - is bounded by the client's timeout (a context deadline per call, so a
//     caller's *http.Client without Timeout cannot make it unbounded);
//   - never follows a redirect: a 3xx is a transient "redirect" error naming
//     the target host, because following it re-sends the request with its
//     credentials to wherever Location points (another port, another host),
//     and the redirected answer, success or not, is not the vendor's;
//   - reads at most maxAnswer bytes: a bigger answer is malformed (transient);
//   - returns errors with every credential scrubbed (redact.go), whatever
//     path produced them.

// maxAnswer bounds how much of an answer is read, for every vendor.
const maxAnswer = 1 << 20

// NewHTTPClient returns the client every vendor client uses by default:
// one reusable connection pool per endpoint, a bound on every exchange, no
// redirects, and no automatic gzip (so no Accept-Encoding header is added;
// dhgjcloud rejects headers its document does not show).
func NewHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		DisableCompression:    true,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: refuseRedirect}
}

// refuseRedirect makes an http.Client hand back a 3xx as the answer.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// transport sends one vendor account's requests.
type transport struct {
	vendor  string
	hc      *http.Client // our copy of the caller's (or the default) client, with redirects refused
	timeout time.Duration
	secrets []string // the account's configured credentials
	red     redactor // knows secrets
}

// request is one POST to a vendor.
type request struct {
	url    string
	header http.Header // sent exactly as given (no header is added but Host and Content-Length)
	body   []byte
	// credential sent in this request beyond the configured ones (dhgjcloud's
	// live token), scrubbed from this request's errors.
	credential string
}

// newTransport returns the transport of one account. hc nil means
// NewHTTPClient(timeout); either way the transport uses a copy with
// CheckRedirect replaced, so that no caller's client can follow a redirect.
// secrets are the account's credentials, scrubbed from every error.
func newTransport(vendor string, hc *http.Client, timeout time.Duration, secrets ...string) *transport {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if hc == nil {
		hc = NewHTTPClient(timeout)
	}
	own := *hc
	own.CheckRedirect = refuseRedirect
	return &transport{vendor: vendor, hc: &own, timeout: timeout, secrets: secrets, red: newRedactor(secrets...)}
}

// exchange sends req through t and decodes the answer with decode. It is
// the one way out of every call: whatever produced an error (no answer, a
// redirect, an oversized answer, a vendor code quoting the request), the
// error leaves scrubbed, and so does a success's warning.
func exchange[T any](ctx context.Context, t *transport, req request, decode func(status int, h http.Header, body []byte) (T, error)) (T, error) {
	var res T
	status, h, body, err := t.send(ctx, req)
	if err == nil {
		res, err = decode(status, h, body)
	}
	if err != nil {
		var zero T
		return zero, t.redactorFor(req).scrub(err)
	}
	// A success is scrubbed only when it carries vendor text (a warning):
	// the redactor of a request with its own credential (dhgjcloud's live
	// token) is built then, not on every successful call.
	if r, ok := any(res).(interface{ redacted(func() redactor) T }); ok {
		res = r.redacted(func() redactor { return t.redactorFor(req) })
	}
	return res, nil
}

// redactorFor knows the account's secrets and req's own credential.
func (t *transport) redactorFor(req request) redactor {
	if req.credential == "" {
		return t.red
	}
	return newRedactor(append(slices.Clone(t.secrets), req.credential)...)
}

// send POSTs req and reads the whole answer. Errors are unscrubbed: only
// exchange calls it.
func (t *transport) send(ctx context.Context, req request) (int, http.Header, []byte, error) {
	if err := ctx.Err(); err != nil { // an ended caller makes no call at all
		return 0, nil, nil, transportError(t.vendor, err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.url, bytes.NewReader(req.body))
	if err != nil {
		return 0, nil, nil, badInput(t.vendor, "cannot build the request: "+err.Error())
	}
	hreq.Header = req.header
	resp, err := t.hc.Do(hreq)
	if err != nil {
		return 0, nil, nil, transportError(t.vendor, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer)) // lets the connection be reused
		return 0, nil, nil, redirectError(t.vendor, resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return 0, nil, nil, transportError(t.vendor, err)
	}
	if len(body) > maxAnswer {
		return 0, nil, nil, malformed(t.vendor, resp.StatusCode, "answer larger than 1 MiB")
	}
	return resp.StatusCode, resp.Header, body, nil
}

// redirectError is the transient error for a 3xx. It names the host the
// Location points to (resolved against the request, so a relative one names
// the vendor itself) and nothing else of it: its path and query may carry
// anything, and its user info is a credential.
func redirectError(vendor string, resp *http.Response) error {
	msg := "HTTP " + strconv.Itoa(resp.StatusCode) + " redirect, not followed"
	if loc, err := resp.Location(); err == nil && loc.Host != "" {
		msg += ": Location is on host " + loc.Host
	} else {
		msg += ": no usable Location"
	}
	return &Error{Vendor: vendor, Class: ClassTransient, Code: "redirect", Message: boundMessage(msg), Err: ErrRedirect}
}
