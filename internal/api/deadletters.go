package api

// The dead-letter routes (SPEC §3.8, the same filters as `enqueue dlq`):
//
//	GET  /v1/dead-letters?endpoint=&code=&class=&type=&since=&until=&grep=&limit=&after=
//	     → 200 {entries: [...], next: CURSOR}; phones masked
//	GET  /v1/dead-letters/count?by=code&...filters → 200 {by, groups: [{key, count}], total}
//	POST /v1/dead-letters:replay {endpoint, code: [...], class, type, since, until, grep, dry_run}
//	     → 200 {matched} with dry_run, else {replayed, skipped}
//
// A bad filter is a 400 naming the parameter (or the body's field).

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vendorq/vendorq/internal/dlq"
)

// DefaultDeadLetterPage is the page size without a limit parameter.
const DefaultDeadLetterPage = 50

// DeadLetterPage answers GET /v1/dead-letters.
type DeadLetterPage struct {
	Entries []dlq.Entry `json:"entries"`
	// Next is the cursor of the following page (pass it as after=); empty
	// when there is none.
	Next string `json:"next"`
}

// DeadLetterCount answers GET /v1/dead-letters/count.
type DeadLetterCount struct {
	By     string          `json:"by"`
	Groups []DeadLetterGrp `json:"groups"`
	Total  int64           `json:"total"`
}

// DeadLetterGrp is one group's count.
type DeadLetterGrp struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// ReplayRequest is the body of POST /v1/dead-letters:replay: the filters
// of the listing, and dry_run.
type ReplayRequest struct {
	Endpoint string   `json:"endpoint"`
	Code     []string `json:"code"`
	Class    string   `json:"class"`
	Type     string   `json:"type"`
	Since    string   `json:"since"`
	Until    string   `json:"until"`
	Grep     string   `json:"grep"`
	DryRun   bool     `json:"dry_run"`
}

// ReplayResponse answers a replay: Matched with dry_run, else Replayed
// (and Skipped: entries without a task to replay, left in place).
type ReplayResponse struct {
	Matched  *int64 `json:"matched,omitempty"`
	Replayed *int64 `json:"replayed,omitempty"`
	Skipped  *int64 `json:"skipped,omitempty"`
}

// maxReplayBody bounds a replay request's body.
const maxReplayBody = 64 << 10

// filterParams are the query parameters of the listing and the count.
var filterParams = map[string]bool{"endpoint": true, "code": true, "class": true, "type": true, "since": true, "until": true, "grep": true}

// queryFilter reads the filters from a query; allowed names the extra
// parameters of the route.
func queryFilter(q url.Values, now time.Time, allowed ...string) (dlq.Filter, *FieldError) {
	for k := range q {
		if !filterParams[k] && !contains(allowed, k) {
			return dlq.Filter{}, &FieldError{Field: k, Reason: "unknown parameter; known: endpoint, code, class, type, since, until, grep, " + strings.Join(allowed, ", ")}
		}
	}
	var codes []string
	for _, c := range q["code"] {
		codes = append(codes, strings.Split(c, ",")...)
	}
	return buildFilter(q.Get("endpoint"), codes, q.Get("class"), q.Get("type"), q.Get("since"), q.Get("until"), q.Get("grep"), now)
}

// buildFilter checks and builds a filter; an error names the field.
func buildFilter(endpoint string, codes []string, class, typ, since, until, grep string, now time.Time) (dlq.Filter, *FieldError) {
	f := dlq.Filter{Codes: codes, Class: class, Type: typ, Grep: grep}
	if endpoint != "" {
		f.Endpoints = []string{endpoint}
	}
	for _, tv := range []struct {
		name, v string
		t       *time.Time
	}{{"since", since, &f.Since}, {"until", until, &f.Until}} {
		if tv.v == "" {
			continue
		}
		t, err := dlq.ParseTime(tv.v, now)
		if err != nil {
			return f, &FieldError{Field: tv.name, Reason: err.Error()}
		}
		*tv.t = t
	}
	if err := f.Validate(); err != nil {
		return f, filterFieldError(err)
	}
	return f, nil
}

// filterFieldError turns "dlq: bad filter: class: reason" into {class, reason}.
func filterFieldError(err error) *FieldError {
	for _, sentinel := range []error{dlq.ErrBadFilter, dlq.ErrBadCursor} {
		if errors.Is(err, sentinel) {
			field, reason, _ := strings.Cut(strings.TrimPrefix(err.Error(), sentinel.Error()+": "), ": ")
			return &FieldError{Field: field, Reason: reason}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) handleDeadLetters(w http.ResponseWriter, r *http.Request) {
	if !s.deadLettersReady(w) {
		return
	}
	q := r.URL.Query()
	f, fe := queryFilter(q, time.Now(), "limit", "after")
	if fe != nil {
		writeErrors(w, http.StatusBadRequest, *fe)
		return
	}
	if !s.endpointKnown(w, r, f) {
		return
	}
	limit := DefaultDeadLetterPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > dlq.MaxPageSize {
			writeErrors(w, http.StatusBadRequest, FieldError{Field: "limit", Reason: fmt.Sprintf("must be a whole number from 1 to %d, got %q", dlq.MaxPageSize, v)})
			return
		}
		limit = n
	}
	page, err := s.o.DeadLetters.ListFiltered(r.Context(), f, dlq.Cursor(q.Get("after")), limit)
	if err != nil {
		s.deadLetterFail(w, r, err)
		return
	}
	out := DeadLetterPage{Entries: make([]dlq.Entry, len(page.Entries)), Next: string(page.Next)}
	for i, e := range page.Entries {
		out.Entries[i] = e.Masked()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDeadLetterCount(w http.ResponseWriter, r *http.Request) {
	if !s.deadLettersReady(w) {
		return
	}
	q := r.URL.Query()
	f, fe := queryFilter(q, time.Now(), "by")
	if fe != nil {
		writeErrors(w, http.StatusBadRequest, *fe)
		return
	}
	if !s.endpointKnown(w, r, f) {
		return
	}
	by := q.Get("by")
	if by == "" {
		by = dlq.ByEndpoint
	}
	gs, err := s.o.DeadLetters.CountBy(r.Context(), f, by)
	if err != nil {
		s.deadLetterFail(w, r, err)
		return
	}
	out := DeadLetterCount{By: by, Groups: make([]DeadLetterGrp, len(gs))}
	for i, g := range gs {
		out.Groups[i] = DeadLetterGrp{Key: g.Key, Count: g.Count}
		out.Total += g.Count
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDeadLetterReplay(w http.ResponseWriter, r *http.Request) {
	if !s.deadLettersReady(w) {
		return
	}
	b, ok := readBody(w, r, maxReplayBody)
	if !ok {
		return
	}
	var req ReplayRequest
	if fe := decodeStrict(b, &req, ""); fe != nil {
		writeErrors(w, http.StatusBadRequest, *fe)
		return
	}
	f, fe := buildFilter(req.Endpoint, req.Code, req.Class, req.Type, req.Since, req.Until, req.Grep, time.Now())
	if fe != nil {
		writeErrors(w, http.StatusBadRequest, *fe)
		return
	}
	if !s.endpointKnown(w, r, f) {
		return
	}
	if req.DryRun {
		n, err := s.o.DeadLetters.Total(r.Context(), f)
		if err != nil {
			s.deadLetterFail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, ReplayResponse{Matched: &n})
		return
	}
	if s.o.Replayer == nil {
		writeErrors(w, http.StatusServiceUnavailable, FieldError{Reason: "this server cannot replay (no queue client)"})
		return
	}
	res, err := s.o.DeadLetters.ReplayFilter(r.Context(), s.o.Replayer, f)
	s.o.Log.Info().Int64("replayed", res.Done).Int64("skipped", res.Skipped).Msg("api: dead letters replayed")
	if err != nil {
		s.deadLetterFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ReplayResponse{Replayed: &res.Done, Skipped: &res.Skipped})
}

// endpointKnown answers 400 naming the field when f names an endpoint that
// is neither configured nor holds dead letters (a retired endpoint's are
// still listed), as `enqueue dlq --endpoint` does: a typo must not read as
// "no dead letters".
func (s *Server) endpointKnown(w http.ResponseWriter, r *http.Request, f dlq.Filter) bool {
	if len(f.Endpoints) != 1 {
		return true
	}
	name, configured := f.Endpoints[0], s.o.Producer.Endpoints()
	if contains(configured, name) {
		return true
	}
	held, err := s.o.DeadLetters.Endpoints(r.Context())
	if err != nil {
		s.deadLetterFail(w, r, err)
		return false
	}
	if contains(held, name) {
		return true
	}
	writeErrors(w, http.StatusBadRequest, FieldError{Field: "endpoint",
		Reason: fmt.Sprintf("unknown endpoint %q (configured: %s)", name, strings.Join(configured, ", "))})
	return false
}

// deadLettersReady answers 503 when the server has no dead-letter store.
func (s *Server) deadLettersReady(w http.ResponseWriter) bool {
	if s.o.DeadLetters == nil {
		writeErrors(w, http.StatusServiceUnavailable, FieldError{Reason: "this server has no dead-letter store"})
		return false
	}
	return true
}

// deadLetterFail answers a store error: 400 for a bad filter or cursor,
// else 503 (Redis); the cause goes to the log, not to the client.
func (s *Server) deadLetterFail(w http.ResponseWriter, r *http.Request, err error) {
	if fe := filterFieldError(err); fe != nil {
		writeErrors(w, http.StatusBadRequest, *fe)
		return
	}
	s.o.Log.Error().Err(err).Str("path", r.URL.Path).Msg("api: dead-letter store")
	writeErrors(w, http.StatusServiceUnavailable, FieldError{Reason: "dead-letter store (Redis) unavailable; retry later"})
}
