// Package api is vendorq's HTTP enqueue API, for producers that are not
// written in Go (PHP, Python, curl …). It validates and enqueues through
// internal/producer, exactly like the enqueue CLI, so a task accepted here
// is the same task the CLI would have put on the queue.
//
// Routes (described in api/openapi.json, served at /openapi.json):
//
//	POST /v1/tasks/record   one record:create → 202 {task_id} | 200 {task_id, duplicate: true}
//	POST /v1/tasks/sms      one sms:send      → same
//	POST /v1/tasks:batch    up to MaxBatchItems tasks → 200 with one result per item
//	GET  /v1/dead-letters, GET /v1/dead-letters/count, POST /v1/dead-letters:replay
//	                        the dead-letter store, filtered (deadletters.go)
//	GET  /openapi.json      the OpenAPI 3 document (no token needed)
//	GET  /healthz           200 when Redis answers, 503 otherwise (no token needed)
//
// Every /v1 route needs "Authorization: Bearer TOKEN"; the token is compared
// in constant time. Errors always have the shape
// {"errors":[{"field":"phones[1]","reason":"..."}]}.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/batch"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// Limits (defaults of Options).
const (
	// MaxTaskBytes bounds the body of a single-task request: one task's
	// payload limit, so that anything over it is refused before it is parsed.
	MaxTaskBytes = tasks.MaxPayloadBytes
	// MaxBatchItems bounds the tasks of one batch request.
	MaxBatchItems = 1000
	// MaxBatchBytes bounds a batch body: 1000 items × 16 KiB on average.
	// Each item is still held to MaxTaskBytes.
	MaxBatchBytes = 16 << 20
	// MinTokenLen is the shortest bearer token the server accepts to run
	// with: shorter ones are guessable.
	MinTokenLen = 16
	// DefaultMaxInFlight is how many maximal batch bodies the server holds
	// at once (see Options.MaxInFlight).
	DefaultMaxInFlight = 4
)

// ErrNoToken: the API refuses to start without a (long enough) token.
var ErrNoToken = errors.New("api: a bearer token of at least 16 characters is required")

// Options configure the server.
type Options struct {
	Producer *producer.Producer
	Token    string                      // required bearer token
	Ping     func(context.Context) error // Redis health for /healthz; nil = always healthy
	Log      zerolog.Logger

	// DeadLetters serves /v1/dead-letters (deadletters.go); nil: those
	// routes answer 503. Replayer puts replayed tasks back (an asynq client
	// on the same Redis); nil: a replay answers 503 (a dry run works).
	DeadLetters *dlq.Store
	Replayer    dlq.Enqueuer

	MaxTaskBytes  int64 // default MaxTaskBytes
	MaxBatchBytes int64 // default MaxBatchBytes
	MaxBatchItems int   // default MaxBatchItems
	// BatchConcurrency is how many parts of one batch are enqueued at once
	// (each part one producer.EnqueueBatch call). Default 8.
	BatchConcurrency int
	// MaxInFlight bounds the requests whose bodies the server holds at
	// once, so that memory stays bounded however many clients send at the
	// same time: their sizes may add up to MaxInFlight maximal batch
	// bodies (MaxInFlight × MaxBatchBytes), each request counted at its
	// Content-Length (its route's limit when it declares none, at least
	// minBodyCost). A request beyond that is answered 503 with Retry-After
	// at once, before its body is read; none waits. So 4 maximal batches,
	// or a thousand small tasks, are served together. Default
	// DefaultMaxInFlight; negative: no bound (for measurements).
	MaxInFlight int
	// Tasks answers GET /v1/tasks/{id} (status.go); nil = 501 there.
	Tasks Lookup
	// NewBatch starts the batch of a POST /v1/tasks:batch request
	// (batchid.go); nil = none, and no batch_id in the answer.
	NewBatch func(ctx context.Context) (*batch.Tracker, error)
}

// Server is the API; it is an http.Handler.
type Server struct {
	o         Options
	tokenHash [32]byte
	routes    map[string]route
	bodies    *bodyBudget
}

type route struct {
	method string
	auth   bool
	limit  int64 // the body's limit on a POST route
	h      http.HandlerFunc
}

// Route is one method and path the server answers.
type Route struct{ Method, Path string }

// New returns the API server.
func New(o Options) (*Server, error) {
	if len(strings.TrimSpace(o.Token)) < MinTokenLen {
		return nil, ErrNoToken
	}
	if o.Producer == nil {
		return nil, errors.New("api: a producer is required")
	}
	if o.MaxTaskBytes <= 0 {
		o.MaxTaskBytes = MaxTaskBytes
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = MaxBatchBytes
	}
	if o.MaxBatchItems <= 0 {
		o.MaxBatchItems = MaxBatchItems
	}
	if o.BatchConcurrency <= 0 {
		o.BatchConcurrency = 8
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	s := &Server{o: o, tokenHash: sha256.Sum256([]byte(o.Token)), bodies: newBodyBudget(int64(o.MaxInFlight) * o.MaxBatchBytes)}
	s.routes = map[string]route{
		"/v1/tasks/record": {http.MethodPost, true, o.MaxTaskBytes, s.handleRecord},
		"/v1/tasks/sms":    {http.MethodPost, true, o.MaxTaskBytes, s.handleSMS},
		"/v1/tasks:batch":  {http.MethodPost, true, o.MaxBatchBytes, s.handleBatch},
		"/openapi.json":    {http.MethodGet, false, 0, s.handleOpenAPI},
		"/healthz":         {http.MethodGet, false, 0, s.handleHealth},
	}
	s.routes["/v1/dead-letters"] = route{http.MethodGet, true, 0, s.handleDeadLetters}
	s.routes["/v1/dead-letters/count"] = route{http.MethodGet, true, 0, s.handleDeadLetterCount}
	s.routes["/v1/dead-letters:replay"] = route{http.MethodPost, true, maxReplayBody, s.handleDeadLetterReplay}
	s.routes[statusRoute] = route{http.MethodGet, true, 0, s.handleStatus}
	return s, nil
}

// Routes lists what the server answers (the OpenAPI test checks the
// document lists exactly these).
func (s *Server) Routes() []Route {
	out := make([]Route, 0, len(s.routes))
	for p, r := range s.routes {
		out = append(out, Route{Method: r.method, Path: p})
	}
	return out
}

// ServeHTTP routes by exact path: 404 for an unknown path, 405 for a wrong
// method, 401, 415 and 503 (too many bodies in flight) before any body is
// read.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.o.Log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", sw.status).
			Dur("duration", time.Since(start)).Str("remote", r.RemoteAddr).Msg("api request")
	}()
	rt, ok := s.routeFor(r.URL.Path)
	if !ok {
		writeErrors(sw, http.StatusNotFound, FieldError{Field: "path", Reason: fmt.Sprintf("no route %s; see /openapi.json", r.URL.Path)})
		return
	}
	headOfGet := rt.method == http.MethodGet && r.Method == http.MethodHead
	if r.Method != rt.method && !headOfGet {
		sw.Header().Set("Allow", rt.method)
		writeErrors(sw, http.StatusMethodNotAllowed, FieldError{Field: "method", Reason: fmt.Sprintf("%s %s is not allowed; use %s", r.Method, r.URL.Path, rt.method)})
		return
	}
	if rt.auth && !s.authorized(sw, r) {
		return
	}
	if rt.method == http.MethodPost {
		if reason := mediaTypeProblem(r.Header.Get("Content-Type")); reason != "" {
			writeErrors(sw, http.StatusUnsupportedMediaType, FieldError{Field: "Content-Type", Reason: reason})
			return
		}
		release, ok := s.bodies.tryReserve(bodyCost(r.ContentLength, rt.limit))
		if !ok {
			writeErrors(sw, http.StatusServiceUnavailable, FieldError{Reason: fmt.Sprintf(
				"busy: the server holds as many request bodies as it may (%d MiB); retry after Retry-After seconds", s.bodies.size>>20)})
			return
		}
		defer release()
	}
	rt.h(sw, r)
}

// authorized checks the bearer token in constant time (over hashes, so
// that not even the token's length leaks) and answers 401 when it fails.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	if h == "" || !found || !strings.EqualFold(scheme, "Bearer") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vendorq"`)
		writeErrors(w, http.StatusUnauthorized, FieldError{Field: "Authorization", Reason: "send Authorization: Bearer <token>"})
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vendorq", error="invalid_token"`)
		writeErrors(w, http.StatusUnauthorized, FieldError{Field: "Authorization", Reason: "invalid bearer token"})
		return false
	}
	return true
}

// mediaTypeProblem says what is wrong with a request's Content-Type, ""
// when nothing is. A missing one is taken as JSON; a declared one must be
// JSON (curl -d declares a form by default: the reason says what to send
// instead), and in UTF-8 if it names a charset: JSON between systems is
// UTF-8 (RFC 8259 §8.1), and GBK text taken as such reached the vendor as
// mojibake.
func mediaTypeProblem(ct string) string {
	if ct == "" {
		return ""
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return "send application/json"
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Sprintf("charset %q is not accepted: send the body in UTF-8 (application/json; charset=utf-8, or no charset)", cs)
	}
	return ""
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if s.o.Ping != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := s.o.Ping(ctx); err != nil {
			s.o.Log.Warn().Err(err).Msg("api health: redis unreachable")
			writeErrors(w, http.StatusServiceUnavailable, FieldError{Reason: "queue storage (Redis) unreachable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
