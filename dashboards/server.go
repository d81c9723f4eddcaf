// Package dashboards is vendorq's operator surface: one HTTP handler that
// serves asynqmon's embedded UI at /monitoring/ (with a bar linking to the
// dead-letter count, monbanner.go), a dead-letter view at /dlq and its count
// as JSON at /dlq/count, Prometheus metrics at /metrics and a health check at /healthz, behind
// optional basic-auth or bearer credentials (failed logins throttled per
// client), optionally read-only, with phone numbers masked in everything
// it shows. Every page but /healthz answers only to allowed Host names
// (hosts.go: DNS rebinding) and every state-changing request, asynqmon's
// API included, must be same-origin and carry a CSRF token (csrf.go).
//
// It also holds the Collector that reports dead-letter and queue sizes from
// Redis at scrape time, the Grafana dashboard (grafana-dashboard.json), the
// Prometheus scrape config (prometheus.yml) and Grafana's provisioning files
// used by compose.yaml.
package dashboards

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// MonitoringPath is where asynqmon's UI is served.
const MonitoringPath = "/monitoring"

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))

// Options configure the dashboard.
type Options struct {
	// RedisConnOpt is where asynq keeps its queues; asynqmon opens its own
	// connections with it. Required.
	RedisConnOpt asynq.RedisConnOpt
	// DeadLetters is the dead-letter store (the worker passes
	// internal/dashdeps.DeadLetters). Required; unless ReadOnly its
	// replays must be able to enqueue.
	DeadLetters DeadLetters
	// Endpoints are the configured endpoint (and queue) names.
	Endpoints []string
	// Gatherer is what /metrics serves (the worker's registry). Required.
	Gatherer prometheus.Gatherer
	// Health is what /healthz checks.
	Health Health
	// Credentials, when set, are required on every page but /healthz.
	Credentials Credentials
	// Addr is the address the dashboard listens on (--dashboard): when its
	// host is one machine's (not 0.0.0.0 or ::), that host is an allowed
	// Host besides loopback names.
	Addr string
	// AllowedHosts are further allowed Host values (ParseAllowedHosts),
	// e.g. the name a reverse proxy forwards.
	AllowedHosts []string
	// CSRFSecret keys the CSRF tokens (at least MinCSRFSecretLen
	// characters); processes behind one load balancer need the same.
	// Empty: a random secret of this process.
	CSRFSecret []byte
	// ReadOnly makes asynqmon view-only and refuses DLQ replay and purge.
	ReadOnly bool
	Log      zerolog.Logger
}

// Server is the dashboard's http.Handler.
type Server struct {
	handler http.Handler
	mon     *asynqmon.HTTPHandler
}

// New builds the dashboard handler. Close it to release asynqmon's Redis
// connections.
func New(o Options) (*Server, error) {
	switch {
	case o.RedisConnOpt == nil:
		return nil, errors.New("dashboards: RedisConnOpt is required")
	case o.DeadLetters == nil:
		return nil, errors.New("dashboards: DeadLetters is required")
	case o.Gatherer == nil:
		return nil, errors.New("dashboards: Gatherer is required")
	}
	if err := o.Credentials.check(); err != nil {
		return nil, err
	}
	hosts, err := newHostPolicy(o.Addr, o.AllowedHosts)
	if err != nil {
		return nil, err
	}
	tokens, err := newCSRFTokens(o.CSRFSecret)
	if err != nil {
		return nil, err
	}
	mon := asynqmon.New(asynqmon.Options{
		RootPath:         MonitoringPath,
		RedisConnOpt:     o.RedisConnOpt,
		ReadOnly:         o.ReadOnly,
		PayloadFormatter: PayloadFormatter,
		ResultFormatter:  ResultFormatter,
	})
	view := &dlqView{
		store: o.DeadLetters, endpoints: o.Endpoints, readOnly: o.ReadOnly,
		tokens: tokens, tmpl: pages, log: o.Log, now: time.Now,
	}
	mux := http.NewServeMux()
	bar := &monBar{store: o.DeadLetters, endpoints: o.Endpoints, log: o.Log} // monbanner.go
	mux.Handle(MonitoringPath+"/", bar.wrap(maskAPI(mon)))
	mux.HandleFunc("GET "+DLQCountPath, bar.serveCount)
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /dlq", view.serveList)
	mux.HandleFunc("POST /dlq/replay", view.serveReplay)
	mux.HandleFunc("POST /dlq/purge", view.servePurge)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		render(w, pages, "index", struct {
			Title    string
			ReadOnly bool
		}{"Home", o.ReadOnly})
	})

	// /healthz stays open so that probers need no secret and no Host of
	// ours (a kubelet or a load balancer names the pod IP or its own
	// target); it says only whether Redis answers and the servers run,
	// which a rebinding page gains nothing from.
	auth := &authGuard{creds: o.Credentials, lim: newLoginLimiter(), log: o.Log}
	csrf := newCSRFGuard(tokens, o.Credentials, o.Log)
	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", o.Health.serveHealth)
	root.Handle("/", hosts.guard(o.Credentials, auth.wrap(csrf.wrap(mux))))
	return &Server{handler: securityHeaders(root), mon: mon}, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close releases asynqmon's Redis connections.
func (s *Server) Close() error { return s.mon.Close() }

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, MonitoringPath+"/") {
			// Our own pages use no script at all.
			hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		}
		h.ServeHTTP(w, r)
	})
}

func render(w http.ResponseWriter, t *template.Template, name string, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "template: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// maskAPI masks phone numbers in asynqmon's JSON answers. The payload and
// result formatters already cover payloads; this also covers the last
// error of a task and anything else a handler echoed. Redis statistics
// (pure numbers) are left alone.
func maskAPI(h http.Handler) http.Handler {
	api := MonitoringPath + "/api/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, api) || strings.HasPrefix(r.URL.Path, api+"redis_info") || strings.HasPrefix(r.URL.Path, api+"metrics") {
			h.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		body := maskBytes(rec.body.Bytes())
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.code)
		_, _ = w.Write(body)
	})
}

// recorder buffers an answer so that it can be rewritten.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
