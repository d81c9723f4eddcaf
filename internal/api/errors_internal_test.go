package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// Which status each kind of producer error becomes: the client's fault
// (400), Redis (503: retry later) or ours (500); causes never reach the client.
func TestTaskErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		field  string
	}{
		{&tasks.FieldError{Field: "phones[2]", Reason: "bad"}, http.StatusBadRequest, "items[4].task.phones[2]"},
		{fmt.Errorf("%w: dial tcp 10.0.0.5:6379: refused", producer.ErrRedis), http.StatusServiceUnavailable, ""},
		{errors.New("asynq: something unexpected"), http.StatusInternalServerError, ""},
	} {
		status, fe := taskError(tc.err, "items[4].task")
		if status != tc.status || fe.Field != tc.field {
			t.Errorf("%v: %d %+v, want %d field %q", tc.err, status, fe, tc.status, tc.field)
		}
		if status >= 500 && (fe.Reason == "" || fe.Reason == tc.err.Error()) {
			t.Errorf("%v: reason %q must be generic", tc.err, fe.Reason)
		}
	}
}
