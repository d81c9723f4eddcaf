package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// The dead-letter bar on asynqmon's pages. asynqmon knows only asynq's
// queues: a task vendorq dead-letters is completed in asynq and kept in
// vendorq's own store, so asynqmon says "Failed 0, error rate 0.00 %"
// while dead letters wait at /dlq. Every asynqmon page (its index.html, the
// one HTML it serves) therefore gets a small fixed bar with the count, read
// from the store when the page is served, refreshed every
// monBarRefresh from GET /dlq/count, linking to /dlq.

// DLQCountPath answers the dead-letter count as JSON.
const DLQCountPath = "/dlq/count"

// monBarRefresh is how often an open asynqmon page refreshes its count.
const monBarRefresh = 15 * time.Second

// monBarTimeout bounds reading the count for one page or answer.
const monBarTimeout = 2 * time.Second

// maxMonPage bounds the asynqmon page buffered to be rewritten (its
// index.html is about 3 KiB); a bigger answer is passed on as it is.
const maxMonPage = 256 << 10

type monBar struct {
	store     DeadLetterCounter
	endpoints []string
	log       zerolog.Logger
}

// dlqCounts is GET /dlq/count's answer.
type dlqCounts struct {
	Total     int64            `json:"total"`
	Endpoints map[string]int64 `json:"endpoints"` // those with dead letters
}

func (b *monBar) counts(ctx context.Context) (dlqCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, monBarTimeout)
	defer cancel()
	c := dlqCounts{Endpoints: map[string]int64{}}
	extra, err := b.store.Endpoints(ctx)
	if err != nil {
		return c, err
	}
	eps := union(b.endpoints, extra)
	counts, err := b.store.Counts(ctx, eps)
	if err != nil {
		return c, err
	}
	for i, ep := range eps {
		if n := counts[i]; n > 0 {
			c.Endpoints[ep] = n
			c.Total += n
		}
	}
	return c, nil
}

// serveCount is GET /dlq/count.
func (b *monBar) serveCount(w http.ResponseWriter, r *http.Request) {
	c, err := b.counts(r.Context())
	if err != nil {
		b.log.Error().Str("error", MaskPhones(err.Error())).Msg("dashboard: dead-letter count")
		http.Error(w, "dead-letter store: "+MaskPhones(err.Error()), http.StatusInternalServerError)
		return
	}
	body, _ := json.Marshal(c)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// wrap adds the bar to the HTML pages h (asynqmon) serves under
// MonitoringPath; its API, static files and every other method pass as
// they are.
func (b *monBar) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if r.Method != http.MethodGet || strings.HasPrefix(p, MonitoringPath+"/api/") ||
			strings.HasPrefix(p, MonitoringPath+"/static/") || strings.Contains(path.Base(p), ".") {
			h.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		body := rec.body.Bytes()
		ct := rec.header.Get("Content-Type")
		if ct == "" {
			ct = http.DetectContentType(body)
		}
		if rec.code == http.StatusOK && strings.HasPrefix(ct, "text/html") && len(body) <= maxMonPage {
			if i := bytes.LastIndex(body, []byte("</body>")); i >= 0 {
				body = append(append(append([]byte{}, body[:i]...), b.bar(r.Context())...), body[i:]...)
				rec.header.Set("Content-Type", ct)
				rec.header.Set("Cache-Control", "no-store") // the count is of now
			}
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.code)
		_, _ = w.Write(body)
	})
}

var monBarTmpl = template.Must(template.New("bar").Parse(`<div id="vendorq-dlq-bar" role="status" style="position:fixed;top:10px;right:16px;z-index:1300;max-width:calc(100% - 320px);padding:6px 12px;border-radius:4px;font:13px/1.4 Roboto,Helvetica,Arial,sans-serif;color:#fff;background:{{if .Total}}#b71c1c{{else}}#37474f{{end}};box-shadow:0 1px 4px rgba(0,0,0,.4)">
<a href="/dlq" style="color:#fff;font-weight:500">Dead letters: <span id="vendorq-dlq-n">{{if .Err}}?{{else}}{{.Total}}{{end}}</span></a>
<span id="vendorq-dlq-per">{{if .Err}}(the store did not answer){{else}}{{range $i, $e := .Per}}{{if $i}}, {{end}}{{$e.Endpoint}} {{$e.Count}}{{end}}{{end}}</span>
<span style="opacity:.85">(vendorq's own store; asynq's "failed"/"archived" do not count them)</span> → <a href="/dlq" style="color:#fff">/dlq</a>
</div>
<script>(function(){var n=document.getElementById("vendorq-dlq-n"),per=document.getElementById("vendorq-dlq-per"),bar=document.getElementById("vendorq-dlq-bar");
setInterval(function(){fetch({{.CountPath}},{credentials:"same-origin",cache:"no-store"}).then(function(r){return r.ok?r.json():null}).then(function(c){
if(!c)return;n.textContent=c.total;per.textContent=Object.keys(c.endpoints).sort().map(function(e){return e+" "+c.endpoints[e]}).join(", ");
bar.style.background=c.total>0?"#b71c1c":"#37474f"}).catch(function(){})},{{.RefreshMS}})})();</script>
`))

// bar renders the bar with the count of now.
func (b *monBar) bar(ctx context.Context) []byte {
	c, err := b.counts(ctx)
	data := struct {
		Total     int64
		Per       []dlqCount
		Err       bool
		RefreshMS int64
		CountPath string
	}{Total: c.Total, Err: err != nil, RefreshMS: monBarRefresh.Milliseconds(), CountPath: DLQCountPath}
	if err != nil {
		b.log.Error().Str("error", MaskPhones(err.Error())).Msg("dashboard: dead-letter count for asynqmon's page")
	}
	eps := make([]string, 0, len(c.Endpoints))
	for ep := range c.Endpoints {
		eps = append(eps, ep)
	}
	for _, ep := range union(eps, nil) { // sorted
		data.Per = append(data.Per, dlqCount{Endpoint: ep, Count: c.Endpoints[ep]})
	}
	var buf bytes.Buffer
	if err := monBarTmpl.Execute(&buf, data); err != nil {
		return nil
	}
	return buf.Bytes()
}
