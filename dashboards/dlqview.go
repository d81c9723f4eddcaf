package dashboards

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/tasks"
)

// Page sizes of the dead-letter view.
const (
	defaultDLQLimit = 50
	maxDLQLimit     = 500
	maxPayloadShown = 400 // characters of a payload shown in the table
	maxFormBytes    = 64 << 10
)

// dlqView is the server-rendered dead-letter page (/dlq) and its two
// actions (POST /dlq/replay, POST /dlq/purge).
type dlqView struct {
	store     DeadLetters
	endpoints []string
	readOnly  bool
	// tokens issue the token every action form carries (csrf.go checks
	// it). A page on another site can make the browser POST here (with
	// its cached basic auth) but cannot read our pages, so it cannot know
	// the token.
	tokens *csrfTokens
	tmpl   *template.Template
	log    zerolog.Logger
	now    func() time.Time
}

type dlqCount struct {
	Endpoint string
	Count    int64
}

type dlqRow struct {
	Endpoint, ID, Type, Class, Code, Error, Payload string
	Attempts                                        int
	When, Age                                       string
	last                                            time.Time
}

type dlqPage struct {
	Title, CSRF, Endpoint string
	ReadOnly              bool
	Counts                []dlqCount
	Total                 int64
	Entries               []dlqRow
	Limit                 int
	Replayed, Purged      int64
}

func (v *dlqView) serveList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	page := dlqPage{Title: "Dead letters", CSRF: v.tokens.issue(), ReadOnly: v.readOnly, Limit: defaultDLQLimit}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		page.Limit = min(n, maxDLQLimit)
	}
	page.Replayed, _ = strconv.ParseInt(q.Get("replayed"), 10, 64)
	page.Purged, _ = strconv.ParseInt(q.Get("purged"), 10, 64)
	eps, err := v.allEndpoints(r)
	if err != nil {
		v.fail(w, err)
		return
	}
	if ep := q.Get("endpoint"); ep != "" {
		if !contains(eps, ep) {
			http.Error(w, "unknown endpoint", http.StatusNotFound)
			return
		}
		page.Endpoint = ep
	}
	for _, ep := range eps {
		n, err := v.store.Count(ctx, ep)
		if err != nil {
			v.fail(w, err)
			return
		}
		page.Counts = append(page.Counts, dlqCount{Endpoint: ep, Count: n})
		page.Total += n
	}
	shown := eps
	if page.Endpoint != "" {
		shown = []string{page.Endpoint}
	}
	// Newest across endpoints: each endpoint's newest page, merged.
	for _, ep := range shown {
		es, err := v.store.List(ctx, ep, 0, page.Limit)
		if err != nil {
			v.fail(w, err)
			return
		}
		for _, e := range es {
			page.Entries = append(page.Entries, v.row(e))
		}
	}
	sort.SliceStable(page.Entries, func(i, j int) bool { return page.Entries[i].last.After(page.Entries[j].last) })
	if len(page.Entries) > page.Limit {
		page.Entries = page.Entries[:page.Limit]
	}
	render(w, v.tmpl, "dlq", page)
}

func (v *dlqView) row(e DeadLetter) dlqRow {
	payload := MaskPhones(string(e.Payload))
	if r := []rune(payload); len(r) > maxPayloadShown {
		payload = string(r[:maxPayloadShown]) + "…"
	}
	return dlqRow{
		Endpoint: e.Endpoint, ID: e.ID, Type: e.Type, Class: e.Class, Code: e.Code,
		Error: MaskPhones(e.Error), Payload: payload, Attempts: e.Attempts,
		When: e.LastAttempt.Format("2006-01-02 15:04:05 MST"), Age: age(v.now().Sub(e.LastAttempt)),
		last: e.LastAttempt,
	}
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// allEndpoints is the configured endpoints plus any the store knows of (a
// dead letter of an endpoint since removed from the config stays visible).
func (v *dlqView) allEndpoints(r *http.Request) ([]string, error) {
	extra, err := v.store.Endpoints(r.Context())
	if err != nil {
		return nil, err
	}
	return union(v.endpoints, extra), nil
}

// checkAction guards the POST actions, once csrfGuard has checked origin
// and token: read-only, and a known endpoint. It returns the endpoint, or
// "" after answering.
func (v *dlqView) checkAction(w http.ResponseWriter, r *http.Request) string {
	if v.readOnly {
		http.Error(w, "403 forbidden: this dashboard is read-only", http.StatusForbidden)
		return ""
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return ""
	}
	ep := r.PostForm.Get("endpoint")
	eps, err := v.allEndpoints(r)
	if err != nil {
		v.fail(w, err)
		return ""
	}
	if !tasks.ValidEndpoint(ep) || !contains(eps, ep) {
		http.Error(w, "unknown endpoint", http.StatusBadRequest)
		return ""
	}
	return ep
}

// serveReplay puts one entry (form field id) or every entry of the endpoint
// back on its queue.
func (v *dlqView) serveReplay(w http.ResponseWriter, r *http.Request) {
	ep := v.checkAction(w, r)
	if ep == "" {
		return
	}
	ctx := r.Context()
	var n int64
	if id := r.PostForm.Get("id"); id != "" {
		ok, err := v.store.ReplayOne(ctx, ep, id)
		if err != nil {
			v.fail(w, err)
			return
		}
		if !ok {
			http.Error(w, "no such dead letter (already replayed or purged?)", http.StatusNotFound)
			return
		}
		n = 1
	} else {
		var err error
		if n, err = v.store.ReplayAll(ctx, ep); err != nil {
			v.log.Error().Str("endpoint", ep).Int64("replayed", n).Str("error", MaskPhones(err.Error())).Msg("dashboard: replay stopped")
			v.fail(w, err)
			return
		}
	}
	v.log.Info().Str("endpoint", ep).Int64("replayed", n).Msg("dashboard: dead letters replayed")
	http.Redirect(w, r, "/dlq?"+url.Values{"endpoint": {ep}, "replayed": {strconv.FormatInt(n, 10)}}.Encode(), http.StatusSeeOther)
}

// servePurge deletes every entry of the endpoint; the form must confirm.
func (v *dlqView) servePurge(w http.ResponseWriter, r *http.Request) {
	ep := v.checkAction(w, r)
	if ep == "" {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		http.Error(w, "tick the confirmation box to purge", http.StatusBadRequest)
		return
	}
	n, err := v.store.Purge(r.Context(), ep)
	if err != nil {
		v.fail(w, err)
		return
	}
	v.log.Warn().Str("endpoint", ep).Int64("purged", n).Msg("dashboard: dead letters purged")
	http.Redirect(w, r, "/dlq?"+url.Values{"endpoint": {ep}, "purged": {strconv.FormatInt(n, 10)}}.Encode(), http.StatusSeeOther)
}

func (v *dlqView) fail(w http.ResponseWriter, err error) {
	v.log.Error().Str("error", MaskPhones(err.Error())).Msg("dashboard: dead-letter view")
	http.Error(w, "dead-letter store: "+MaskPhones(err.Error()), http.StatusInternalServerError)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
