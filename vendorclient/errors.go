package vendorclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class is what an answer means to the worker (docs/vendors.md "What every outcome means").
type Class int

// The classes, in the order of docs/vendors.md "What every outcome means".
const (
	ClassOK        Class = iota // done (baibaoyun 4010 is OK with a warning)
	ClassThrottled              // too fast: slow down and retry, not a failure
	ClassQuota                  // account quota or balance exhausted: pause the endpoint
	ClassTransient              // retry with back-off up to max_retry
	ClassToken                  // dhgjcloud 401: refresh the shared token and retry once
	ClassPermanent              // never retry: dead-letter at once
)

var classNames = [...]string{"ok", "throttled", "quota", "transient", "token", "permanent"}

// String returns the lower-case class name used in logs, metrics and the DLQ.
func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("class(%d)", int(c))
	}
	return classNames[c]
}

// Sentinel errors; match them with errors.Is.
var (
	// ErrUntrustedAnswer: the answer's own integrity check (yesapi _auth)
	// does not match, so nothing in it can be believed.
	ErrUntrustedAnswer = errors.New("vendorclient: answer failed its integrity check")
	// ErrMalformedAnswer: the vendor's answer could not be decoded, or is a
	// 2xx that does not say the call succeeded.
	ErrMalformedAnswer = errors.New("vendorclient: malformed answer")
	// ErrBadRequest: the caller's input cannot be sent (never reaches the vendor).
	ErrBadRequest = errors.New("vendorclient: bad request")
	// ErrRedirect: the answer was a 3xx. It is never followed: a redirected
	// request would carry its credentials to wherever the Location points,
	// and the redirected answer would not be the vendor's.
	ErrRedirect = errors.New("vendorclient: redirect not followed")
)

// Error is a vendor answer (or transport failure) that is not plain success.
// Every non-nil error returned by a client is, or wraps, an *Error.
type Error struct {
	Vendor  string        // "baibaoyun", "yesapi", "dhgjcloud", "caihcom"
	Class   Class         // what the worker should do
	Code    string        // vendor code as text: "4004", "414", "8401", "http_429", "timeout", "redirect", …
	Message string        // vendor message (never contains secrets: see redact.go)
	Delay   time.Duration // suggested wait before the next call (Retry-After when given); 0 = worker decides
	Err     error         // underlying cause (sentinel or transport error), may be nil
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s code=%s", e.Vendor, e.Class, e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err: ClassOK for nil, the *Error's class when
// err wraps one, and ClassTransient for anything else (context deadline,
// connection errors), because an unknown failure is worth a bounded retry.
func ClassOf(err error) Class {
	if err == nil {
		return ClassOK
	}
	var ve *Error
	if errors.As(err, &ve) {
		return ve.Class
	}
	return ClassTransient
}

// AsError returns the *Error inside err, or nil.
func AsError(err error) *Error {
	var ve *Error
	if errors.As(err, &ve) {
		return ve
	}
	return nil
}

// ---- the error shapes every client uses ----

// configError is a constructor's refusal of its config; msg names the field.
func configError(vendor, msg string) error {
	return errors.New("vendorclient: " + vendor + ": " + msg)
}

// badInput is the error for a caller's input that is never sent.
func badInput(vendor, msg string) error {
	return &Error{Vendor: vendor, Class: ClassPermanent, Code: "bad_input", Message: msg, Err: ErrBadRequest}
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

// malformed classifies an answer that cannot be decoded, or a 2xx that does
// not say success (transient: a proxy or a half-deployed vendor can answer
// garbage once, and a retry is better than a record lost as "done").
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

// httpStatusError classifies a bare HTTP status with no vendor body (a
// vendor whose protocol gives a status its own meaning, like dhgjcloud's
// 401, sets that in its own file). A 2xx
// gets here only when its body is not the vendor's success answer: that is
// malformed, never success and never permanent.
func httpStatusError(vendor string, status int, h http.Header, msg string) error {
	if status >= 200 && status <= 299 {
		return malformed(vendor, status, "not the vendor's success answer")
	}
	e := &Error{Vendor: vendor, Code: "http_" + strconv.Itoa(status), Message: msg, Delay: retryAfter(h, time.Now())}
	switch {
	case status == http.StatusTooManyRequests:
		e.Class = ClassThrottled
	case status == http.StatusRequestTimeout, status >= 500:
		e.Class = ClassTransient
	default:
		e.Class = ClassPermanent
	}
	return e
}
