package dashboards

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
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

	// The filter form (dlqfilter.go) and what it selects.
	Form      dlqForm
	Endpoints []string // the form's endpoint choices
	Classes   []string
	Types     []string
	Codes     []dlqCode // counts per code under the filter without its codes
	Matching  int64     // entries the whole filter selects (without grep: counted from the index)
	Error     string    // a bad filter field
	PageNo    int
	Next      string // query of the next page, "" on the last
	Prev      string // query of the previous page, "" on the first
}

// dlqCode is one row of the counts per code.
type dlqCode struct {
	Code     string
	Count    int64
	Selected bool
	Href     string // the view filtered to this code
}

func (v *dlqView) serveList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	page := dlqPage{Title: "Dead letters", CSRF: v.tokens.issue(), ReadOnly: v.readOnly, Limit: defaultDLQLimit,
		Classes: dlqClasses, Types: dlqTypes}
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
	page.Endpoints = eps
	if ep := q.Get("endpoint"); ep != "" {
		if !contains(eps, ep) {
			http.Error(w, "unknown endpoint", http.StatusNotFound)
			return
		}
		page.Endpoint = ep
	}
	page.Form = formFrom(q)
	counts, err := v.store.Counts(ctx, eps)
	if err != nil {
		v.fail(w, err)
		return
	}
	for i, ep := range eps {
		page.Counts = append(page.Counts, dlqCount{Endpoint: ep, Count: counts[i]})
		page.Total += counts[i]
	}
	if err := v.fillFiltered(r, &page); err != nil {
		if !errors.Is(err, ErrBadFilter) {
			v.fail(w, err)
			return
		}
		page.Error = err.Error()
		w.WriteHeader(http.StatusBadRequest)
	}
	render(w, v.tmpl, "dlq", page)
}

// fillFiltered reads the counts per code, the number matching and the
// page of entries the form selects.
func (v *dlqView) fillFiltered(r *http.Request, page *dlqPage) error {
	ctx := r.Context()
	f := page.Form.filter()
	all := f
	all.Codes = nil
	groups, err := v.store.CountBy(ctx, all, "code")
	if err != nil {
		return err
	}
	for _, g := range groups {
		sel := contains(f.Codes, g.Key)
		if len(f.Codes) == 0 || sel {
			page.Matching += g.Count
		}
		href := page.Form.with("code", g.Key).query()
		page.Codes = append(page.Codes, dlqCode{Code: g.Key, Count: g.Count, Selected: sel, Href: href})
	}
	trail := page.Form.trail()
	lp, err := v.store.ListFiltered(ctx, f, page.Form.After, page.Limit)
	if err != nil {
		return err
	}
	for _, e := range lp.Entries {
		page.Entries = append(page.Entries, v.row(e))
	}
	page.PageNo = len(trail) + 1
	if lp.Next != "" {
		page.Next = page.Form.page(lp.Next, append(trail, page.Form.After), page.Limit)
	}
	if len(trail) > 0 {
		page.Prev = page.Form.page(trail[len(trail)-1], trail[:len(trail)-1], page.Limit)
	}
	return nil
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
// "" after answering. An action on the filter (form field scope=filter)
// needs no endpoint: it returns filterScope then, with the form checked.
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
	if r.PostForm.Get("scope") == "filter" && (ep == "" || contains(eps, ep)) {
		return filterScope
	}
	if !tasks.ValidEndpoint(ep) || !contains(eps, ep) {
		http.Error(w, "unknown endpoint", http.StatusBadRequest)
		return ""
	}
	return ep
}

// filterScope is checkAction's answer for an action on the form's filter.
const filterScope = "\x00filter"

// afterAction redirects to the view of the same filter with a banner.
func (v *dlqView) afterAction(w http.ResponseWriter, r *http.Request, form dlqForm, banner string, n int64) {
	q := form.values()
	q.Set(banner, strconv.FormatInt(n, 10))
	http.Redirect(w, r, "/dlq?"+q.Encode(), http.StatusSeeOther)
}

// actionFailed answers a failed filtered action: 400 for a bad filter.
func (v *dlqView) actionFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrBadFilter) {
		http.Error(w, MaskPhones(err.Error()), http.StatusBadRequest)
		return
	}
	v.fail(w, err)
}

// serveReplay puts one entry (form field id) or every entry of the endpoint
// back on its queue.
func (v *dlqView) serveReplay(w http.ResponseWriter, r *http.Request) {
	ep := v.checkAction(w, r)
	if ep == "" {
		return
	}
	ctx := r.Context()
	if ep == filterScope {
		form := formFrom(r.PostForm)
		n, err := v.store.ReplayFilter(ctx, form.filter())
		if err != nil {
			v.log.Error().Int64("replayed", n).Str("error", MaskPhones(err.Error())).Msg("dashboard: replay by filter stopped")
			v.actionFailed(w, err)
			return
		}
		v.log.Info().Str("filter", MaskPhones(form.values().Encode())).Int64("replayed", n).Msg("dashboard: dead letters replayed by filter")
		v.afterAction(w, r, form, "replayed", n)
		return
	}
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
	if ep == filterScope {
		form := formFrom(r.PostForm)
		if !form.Filtered() {
			http.Error(w, "purge by filter needs a filter: choose an endpoint, code, class, type, time or text first", http.StatusBadRequest)
			return
		}
		n, err := v.store.PurgeFilter(r.Context(), form.filter())
		if err != nil {
			v.actionFailed(w, err)
			return
		}
		v.log.Warn().Str("filter", MaskPhones(form.values().Encode())).Int64("purged", n).Msg("dashboard: dead letters purged by filter")
		v.afterAction(w, r, form, "purged", n)
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
