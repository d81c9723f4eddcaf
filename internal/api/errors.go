package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// FieldError is one entry of an error answer: which field (a JSON path
// like "phones[1]", or "body", "Authorization" …) and why.
type FieldError struct {
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// Error makes a *FieldError an error (of the client: taskError answers 400).
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// ErrorBody is every error answer: {"errors":[...]}.
type ErrorBody struct {
	Errors []FieldError `json:"errors"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types are encoded: a bug
		status, b = http.StatusInternalServerError, []byte(`{"errors":[{"reason":"internal error encoding the answer"}]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeErrors(w http.ResponseWriter, status int, errs ...FieldError) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, ErrorBody{Errors: errs})
}

// taskError maps a producer/tasks error to the answer's status and entry.
// Redis failures are 503 (retry later: nothing was enqueued); any other
// error that is not the client's is 500.
func taskError(err error, prefix string) (int, FieldError) {
	var own *FieldError // a decoding error: its field has the prefix already
	var fe *tasks.FieldError
	switch {
	case errors.As(err, &own):
		return http.StatusBadRequest, *own
	case errors.As(err, &fe):
		return http.StatusBadRequest, FieldError{Field: join(prefix, fe.Field), Reason: fe.Reason}
	case errors.Is(err, tasks.ErrInvalid):
		return http.StatusBadRequest, FieldError{Field: pathOr(prefix, "body"), Reason: err.Error()}
	case errors.Is(err, producer.ErrRedis):
		return http.StatusServiceUnavailable, FieldError{Reason: "not enqueued: queue storage (Redis) unavailable; retry later"}
	}
	return http.StatusInternalServerError, FieldError{Reason: "not enqueued: internal error"}
}
