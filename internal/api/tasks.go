package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// TaskResponse answers an accepted single task: 202 when it was enqueued,
// 200 with Duplicate when its key was already enqueued or done.
type TaskResponse struct {
	TaskID    string `json:"task_id"`
	Duplicate bool   `json:"duplicate"`
}

// Task kinds: the single-task routes' last path element, and a batch
// item's "type".
const (
	kindRecord = "record"
	kindSMS    = "sms"
)

func (s *Server) handleRecord(w http.ResponseWriter, r *http.Request) {
	s.handleTask(w, r, kindRecord)
}

func (s *Server) handleSMS(w http.ResponseWriter, r *http.Request) {
	s.handleTask(w, r, kindSMS)
}

// handleTask prepares the one task of kind in the body, enqueues it and
// writes the answer.
func (s *Server) handleTask(w http.ResponseWriter, r *http.Request, kind string) {
	b, ok := readBody(w, r, s.o.MaxTaskBytes)
	if !ok {
		return
	}
	it, err := s.prepareTask(kind, b, "", tasks.BatchRef{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.o.Producer.Enqueue(r.Context(), it.Task, it.Endpoint, it.Key)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusAccepted
	if res.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, TaskResponse{TaskID: res.TaskID, Duplicate: res.Duplicate})
}

// prepareTask decodes raw as a task of kind and validates it against the
// config, exactly as the enqueue CLI does. prefix is raw's JSON path in the
// request ("" for a single-task body, "items[3].task" in a batch). Its
// errors are those taskError maps.
//
// ref ties the task to a batch request's batch (batch.go); zero for none.
func (s *Server) prepareTask(kind string, raw []byte, prefix string, ref tasks.BatchRef) (producer.Item, error) {
	switch kind {
	case kindRecord:
		var b recordBody
		opts, err := decodeTaskBody(raw, &b, &b.BatchRef, &b.NotBefore, prefix, ref)
		if err != nil {
			return producer.Item{}, err
		}
		t, err := s.o.Producer.PrepareRecord(b.RecordCreate, opts...)
		return producer.Item{Task: t, Endpoint: b.Endpoint, Key: b.Key}, err
	case kindSMS:
		var b smsBody
		opts, err := decodeTaskBody(raw, &b, &b.BatchRef, &b.NotBefore, prefix, ref)
		if err != nil {
			return producer.Item{}, err
		}
		t, err := s.o.Producer.PrepareSMS(b.SMSSend, opts...)
		return producer.Item{Task: t, Endpoint: b.Endpoint, Key: b.Key}, err
	}
	return producer.Item{}, fmt.Errorf("api: no task kind %q", kind) // a bug: callers check
}

// decodeTaskBody is what both kinds of body go through: strict decoding
// into body, refusing a batch reference the client set (only the server
// ties a task to a batch: it stamps ref over *br), and the hold options of
// *notBefore.
func decodeTaskBody(raw []byte, body any, br *tasks.BatchRef, notBefore *string, prefix string, ref tasks.BatchRef) ([]asynq.Option, error) {
	if fe := decodeStrict(raw, body, prefix); fe != nil {
		return nil, fe
	}
	if fe := noBatchRef(*br, prefix); fe != nil {
		return nil, fe
	}
	*br = ref
	return holdOptions(*notBefore, prefix)
}

// recordBody and smsBody are a task's JSON in a request: the payload of
// package tasks (its "priority" included) and when it may first run.
type recordBody struct {
	tasks.RecordCreate
	NotBefore string `json:"not_before,omitempty"`
}

type smsBody struct {
	tasks.SMSSend
	NotBefore string `json:"not_before,omitempty"`
}

// holdOptions turns a task's not_before (RFC3339, "" = none) into its
// asynq options (producer.Hold): a time that has passed runs now, so a
// client resending a request later is not refused.
func holdOptions(notBefore, prefix string) ([]asynq.Option, error) {
	if notBefore == "" {
		return nil, nil
	}
	bad := func(reason string) error {
		return &FieldError{Field: join(prefix, "not_before"), Reason: reason}
	}
	at, err := time.Parse(time.RFC3339, notBefore)
	if err != nil {
		return nil, bad(fmt.Sprintf("must be an RFC3339 time with a zone, e.g. 2026-12-02T09:30:00+08:00, got %q", notBefore))
	}
	opts, err := producer.Hold(time.Now(), at)
	if err != nil {
		return nil, bad(err.Error())
	}
	return opts, nil
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, fe := taskError(err, "")
	if status >= 500 {
		// The cause goes to the log, not to the client (it names hosts).
		s.o.Log.Error().Err(err).Str("path", r.URL.Path).Int("status", status).Msg("api: task not enqueued")
	}
	writeErrors(w, status, fe)
}

// noBatchRef refuses a client's "batch" or "line": they tie a task to an
// import batch (tasks.BatchRef), which only the server does.
func noBatchRef(b tasks.BatchRef, prefix string) *FieldError {
	if b == (tasks.BatchRef{}) {
		return nil
	}
	return &FieldError{Field: join(prefix, "batch"), Reason: "batch and line are set by vendorq for an import's tasks, not by a client"}
}
