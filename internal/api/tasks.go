package api

import (
	"net/http"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/tasks"
)

// TaskResponse answers an accepted single task: 202 when it was enqueued,
// 200 with Duplicate when its key was already enqueued or done.
type TaskResponse struct {
	TaskID    string `json:"task_id"`
	Duplicate bool   `json:"duplicate"`
}

func (s *Server) handleRecord(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r, s.o.MaxTaskBytes)
	if !ok {
		return
	}
	var rc tasks.RecordCreate
	if fe := decodeStrict(b, &rc, ""); fe != nil {
		writeErrors(w, http.StatusBadRequest, *fe)
		return
	}
	t, err := s.o.Producer.PrepareRecord(rc)
	s.enqueueOne(w, r, t, err, rc.Endpoint, rc.Key)
}

func (s *Server) handleSMS(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r, s.o.MaxTaskBytes)
	if !ok {
		return
	}
	var sm tasks.SMSSend
	if fe := decodeStrict(b, &sm, ""); fe != nil {
		writeErrors(w, http.StatusBadRequest, *fe)
		return
	}
	t, err := s.o.Producer.PrepareSMS(sm)
	s.enqueueOne(w, r, t, err, sm.Endpoint, sm.Key)
}

// enqueueOne enqueues a prepared task (or answers prepErr) and writes the answer.
func (s *Server) enqueueOne(w http.ResponseWriter, r *http.Request, t *asynq.Task, prepErr error, endpoint, key string) {
	if prepErr != nil {
		s.fail(w, r, prepErr)
		return
	}
	res, err := s.o.Producer.Enqueue(r.Context(), t, endpoint, key)
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

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, fe := taskError(err, "")
	if status >= 500 {
		// The cause goes to the log, not to the client (it names hosts).
		s.o.Log.Error().Err(err).Str("path", r.URL.Path).Int("status", status).Msg("api: task not enqueued")
	}
	writeErrors(w, status, fe)
}
