package api

import (
	"fmt"
	"net/http"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/producer"
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
	it, err := s.prepareTask(kind, b, "")
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
func (s *Server) prepareTask(kind string, raw []byte, prefix string) (producer.Item, error) {
	switch kind {
	case kindRecord:
		rc, t, err := decodeAndPrepare(raw, prefix, s.o.Producer.PrepareRecord)
		return producer.Item{Task: t, Endpoint: rc.Endpoint, Key: rc.Key}, err
	case kindSMS:
		sm, t, err := decodeAndPrepare(raw, prefix, s.o.Producer.PrepareSMS)
		return producer.Item{Task: t, Endpoint: sm.Endpoint, Key: sm.Key}, err
	}
	return producer.Item{}, fmt.Errorf("api: no task kind %q", kind) // a bug: callers check
}

// decodeAndPrepare decodes raw into a payload P and prepares its task.
func decodeAndPrepare[P any](raw []byte, prefix string, prepare func(P) (*asynq.Task, error)) (P, *asynq.Task, error) {
	var p P
	if fe := decodeStrict(raw, &p, prefix); fe != nil {
		return p, nil, fe
	}
	t, err := prepare(p)
	return p, t, err
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, fe := taskError(err, "")
	if status >= 500 {
		// The cause goes to the log, not to the client (it names hosts).
		s.o.Log.Error().Err(err).Str("path", r.URL.Path).Int("status", status).Msg("api: task not enqueued")
	}
	writeErrors(w, status, fe)
}
