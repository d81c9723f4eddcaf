// Package cliexit owns the exit codes of both commands (enqueue, worker):
// deep code says "this is a usage error" (2) or "Redis is unreachable" (3)
// by carrying a code through the error chain, the packages' sentinel errors
// map to their codes here, and each command's Main calls Code once.
package cliexit

import (
	"errors"
	"fmt"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/tasks"
)

// The exit codes (README "Exit codes").
const (
	OK          = 0
	Failed      = 1 // enqueue: a task or rows rejected; worker: a runtime failure
	Usage       = 2 // a usage or configuration error
	Redis       = 3 // Redis unreachable or failing mid-way
	Interrupted = 130
)

// Error is an error with the exit code it should end the process with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New formats an error that exits with code.
func New(code int, format string, a ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, a...)}
}

// Wrap attaches code to err.
func Wrap(code int, err error) error { return &Error{Code: code, Err: err} }

// CodeOf returns the code carried by err, if any.
func CodeOf(err error) (int, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return 0, false
}

// Code is the process exit code for err: OK for nil, the code err carries,
// else the code of the sentinel it wraps (a config or Redis URL error is
// Usage, a producer's Redis failure is Redis, an invalid task is Failed),
// else fallback (what the command makes of an error nobody classified:
// enqueue's are cobra's usage errors, the worker's runtime failures).
func Code(err error, fallback int) int {
	if err == nil {
		return OK
	}
	if code, carried := CodeOf(err); carried {
		return code
	}
	switch {
	case errors.Is(err, config.ErrConfig), errors.Is(err, redisconn.ErrBadURL):
		return Usage
	case errors.Is(err, producer.ErrRedis):
		return Redis
	case errors.Is(err, tasks.ErrInvalid):
		return Failed
	}
	return fallback
}
