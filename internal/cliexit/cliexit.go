// Package cliexit carries a process exit code through a command's error
// chain, so that deep code can say "this is a usage error" (2) or "Redis is
// unreachable" (3) and the command's Main maps it once.
package cliexit

import (
	"errors"
	"fmt"
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
