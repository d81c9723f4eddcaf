package vendorclient

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Vendor names, as used in config (`vendor:`), logs, metrics and *Error.Vendor.
const (
	VendorBaibaoyun = "baibaoyun"
	VendorYesapi    = "yesapi"
	VendorDhgjcloud = "dhgjcloud"
	VendorCaihcom   = "caihcom"
)

// DefaultTimeout bounds one HTTP exchange when the endpoint sets none.
const DefaultTimeout = 15 * time.Second

// RecordCreator creates one record (baibaoyun, yesapi, dhgjcloud).
// table is the vendor's table form (SPEC §3.2); data is a JSON object.
// A nil error means the record exists; RecordResult.Warning is set when the
// vendor accepted the record but reported a problem (baibaoyun 4010).
type RecordCreator interface {
	CreateRecord(ctx context.Context, table string, data json.RawMessage) (RecordResult, error)
}

// RecordResult is a successful create.
type RecordResult struct {
	ID      string // the vendor's record id when it returns one
	Warning string // accepted with a warning (baibaoyun 4010: record exists, backend code failed)
}

// NewHTTPClient returns the client every vendor client uses by default:
// one reusable connection pool per endpoint, a bound on every exchange, and
// no automatic gzip (so no Accept-Encoding header is added; dhgjcloud
// rejects headers its document does not show).
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
	return &http.Client{Transport: tr, Timeout: timeout}
}

// transportError classifies a failure to get any answer: timeouts and
// connection errors are transient; a cancelled caller context is returned
// as is wrapped in a transient *Error so the class is still known.
func transportError(vendor string, err error) error {
	code := "conn"
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		code = "timeout"
	case errors.Is(err, context.Canceled):
		code = "canceled"
	}
	return &Error{Vendor: vendor, Class: ClassTransient, Code: code, Message: "no answer", Err: err}
}

// malformed classifies an answer that cannot be decoded (transient: a proxy
// or a half-deployed vendor can answer garbage once).
func malformed(vendor string, status int, why string) error {
	return &Error{Vendor: vendor, Class: ClassTransient, Code: "malformed", Message: "HTTP " + strconv.Itoa(status) + ": " + why, Err: ErrMalformedAnswer}
}

// retryAfter parses a Retry-After header (seconds or HTTP date); 0 when absent or bad.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// httpStatusError classifies a bare HTTP status with no vendor body.
func httpStatusError(vendor string, resp *http.Response, msg string) error {
	e := &Error{Vendor: vendor, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: msg, Delay: retryAfter(resp.Header, time.Now())}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Class = ClassThrottled
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500:
		e.Class = ClassTransient
	case resp.StatusCode == http.StatusUnauthorized && vendor == VendorDhgjcloud:
		e.Class = ClassToken
	default:
		e.Class = ClassPermanent
	}
	return e
}
