// Package vendorclient holds one client per vendor API (baibaoyun, yesapi,
// dhgjcloud, caihcom). Each client signs and encodes requests exactly as the
// vendor documents, and maps every answer to one Class of SPEC §2.5, carried
// by *Error so that the worker can decide between done, wait, retry and
// dead-letter without knowing any vendor's codes.
package vendorclient

import (
	"errors"
	"fmt"
	"time"
)

// Class is what an answer means to the worker (SPEC §2.5).
type Class int

// The classes, in the order of SPEC §2.5.
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
	// ErrMalformedAnswer: the vendor's answer could not be decoded.
	ErrMalformedAnswer = errors.New("vendorclient: malformed answer")
	// ErrBadRequest: the caller's input cannot be sent (never reaches the vendor).
	ErrBadRequest = errors.New("vendorclient: bad request")
)

// Error is a vendor answer (or transport failure) that is not plain success.
// Every non-nil error returned by a client is, or wraps, an *Error.
type Error struct {
	Vendor  string        // "baibaoyun", "yesapi", "dhgjcloud", "caihcom"
	Class   Class         // what the worker should do
	Code    string        // vendor code as text: "4004", "414", "8401", "http_429", "timeout", …
	Message string        // vendor message (never contains secrets)
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
