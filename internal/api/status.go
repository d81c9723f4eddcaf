package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/vendorq/vendorq/internal/taskstate"
	"github.com/vendorq/vendorq/tasks"
)

// taskPrefix starts GET /v1/tasks/{id}: the id is the rest of the path
// (a producer's key may hold "/"). The POST routes /v1/tasks/record and
// /v1/tasks/sms keep their exact paths, so a task whose id is "record" or
// "sms" is asked with `enqueue status` instead.
const taskPrefix = "/v1/tasks/"

// statusRoute is the routes map's entry for GET /v1/tasks/{id}.
const statusRoute = taskPrefix + "{id}"

// Lookup finds a task on every configured endpoint (taskstate.Lookup);
// ErrNotFound-wrapping errors are answered 404.
type Lookup func(ctx context.Context, id string) (taskstate.Info, error)

// routeFor is the route of path: an exact one, or GET /v1/tasks/{id}.
func (s *Server) routeFor(path string) (route, bool) {
	if rt, ok := s.routes[path]; ok {
		return rt, true
	}
	if id, ok := strings.CutPrefix(path, taskPrefix); ok && id != "" {
		rt, ok := s.routes[statusRoute]
		return rt, ok
	}
	return route{}, false
}

// handleStatus answers GET /v1/tasks/{id}: 200 with what taskstate
// knows (phones masked), 404 for an unknown task.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, taskPrefix)
	if s.o.Tasks == nil {
		writeErrors(w, http.StatusNotImplemented, FieldError{Reason: "this server answers no task status"})
		return
	}
	info, err := s.o.Tasks(r.Context(), id)
	switch {
	case errors.Is(err, taskstate.ErrNotFound):
		writeErrors(w, http.StatusNotFound, FieldError{Field: "id", Reason: "unknown task " + tasks.MaskPhones(id) + " (never enqueued, or its result is older than results.retention)"})
		return
	case err != nil:
		s.o.Log.Error().Err(err).Str("path", "/v1/tasks/{id}").Msg("api: task status")
		writeErrors(w, http.StatusServiceUnavailable, FieldError{Reason: "queue storage (Redis) unreachable"})
		return
	}
	info.ID = tasks.MaskPhones(info.ID)
	writeJSON(w, http.StatusOK, info)
}
