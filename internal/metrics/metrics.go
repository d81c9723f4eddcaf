// Package metrics defines vendorq's Prometheus series, labelled by endpoint.
// The worker registers them on its registry; handlers update them.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds every series the worker updates directly. Dead-letter and
// queue sizes are read from Redis at scrape time (dashboards.Collector).
type Metrics struct {
	Calls         *prometheus.CounterVec   // vendor calls by class and vendor code
	CallDuration  *prometheus.HistogramVec // one vendor HTTP exchange
	TokenWait     *prometheus.HistogramVec // time a handler waited for its bucket slot
	EffectiveRate *prometheus.GaugeVec     // configured rate × adaptive factor
	Paused        *prometheus.GaugeVec     // 1 while an endpoint is paused (quota, or a long vendor-advised wait)
	DeadLettered  *prometheus.CounterVec   // tasks this process dead-lettered
	Throttled     *prometheus.CounterVec   // throttled answers (also in Calls), kept apart for alerting
	SMSSentToday  *prometheus.GaugeVec     // an SMS endpoint's messages counted today (CST), with phone_limits or daily_budget
	ServerRunning *prometheus.GaugeVec     // 1 while this process runs the endpoint's asynq server (docs/idle.md)
}

// Names of the series, for dashboards and tests.
const (
	NameCalls         = "vendorq_vendor_calls_total"
	NameCallDuration  = "vendorq_vendor_call_duration_seconds"
	NameTokenWait     = "vendorq_token_wait_seconds"
	NameEffectiveRate = "vendorq_effective_rate"
	NamePaused        = "vendorq_endpoint_paused"
	NameDeadLettered  = "vendorq_dead_lettered_total"
	NameThrottled     = "vendorq_throttled_total"
	NameSMSSentToday  = "vendorq_sms_sent_today"
	NameServerRunning = "vendorq_endpoint_server_running"
)

// New creates the series and registers them on reg (nil = not registered).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameCalls, Help: "Vendor calls by endpoint, vendor, outcome class and vendor code.",
		}, []string{"endpoint", "vendor", "class", "code"}),
		CallDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: NameCallDuration, Help: "Duration of one vendor HTTP exchange.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"endpoint", "vendor"}),
		TokenWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: NameTokenWait, Help: "Time a handler waited for its rate-limit slot.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}, []string{"endpoint"}),
		EffectiveRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameEffectiveRate, Help: "Calls per second currently allowed (configured rate times the adaptive factor).",
		}, []string{"endpoint"}),
		Paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NamePaused, Help: "1 while the endpoint is paused (quota answer, or a vendor-advised wait of a minute or more).",
		}, []string{"endpoint"}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameDeadLettered, Help: "Tasks dead-lettered by this process.",
		}, []string{"endpoint", "code"}),
		Throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameThrottled, Help: "Throttled vendor answers.",
		}, []string{"endpoint"}),
		SMSSentToday: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameSMSSentToday,
			Help: "Messages an SMS endpoint with phone_limits or daily_budget counted today (China Standard Time, all workers), as this process last saw; 0 from 00:00.",
		}, []string{"endpoint"}),
		ServerRunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameServerRunning,
			Help: "1 while this process runs the endpoint's asynq server; 0 while the endpoint is idle here (no work: no server, no polling).",
		}, []string{"endpoint"}),
	}
	if reg != nil {
		reg.MustRegister(m.Calls, m.CallDuration, m.TokenWait, m.EffectiveRate, m.Paused, m.DeadLettered, m.Throttled, m.SMSSentToday, m.ServerRunning)
	}
	return m
}

// ObserveCall records one vendor exchange.
func (m *Metrics) ObserveCall(endpoint, vendor, class, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.Calls.WithLabelValues(endpoint, vendor, class, code).Inc()
	m.CallDuration.WithLabelValues(endpoint, vendor).Observe(d.Seconds())
	if class == "throttled" {
		m.Throttled.WithLabelValues(endpoint).Inc()
	}
}

// ObserveTokenWait records the time a handler waited for its rate-limit slot.
func (m *Metrics) ObserveTokenWait(endpoint string, waited time.Duration) {
	if m == nil {
		return
	}
	m.TokenWait.WithLabelValues(endpoint).Observe(waited.Seconds())
}

// SetEffectiveRate records the calls/second currently allowed.
func (m *Metrics) SetEffectiveRate(endpoint string, perSecond float64) {
	if m == nil {
		return
	}
	m.EffectiveRate.WithLabelValues(endpoint).Set(perSecond)
}

// SetPaused records whether the endpoint is paused (no calls go out).
func (m *Metrics) SetPaused(endpoint string, paused bool) {
	if m == nil {
		return
	}
	v := 0.0
	if paused {
		v = 1
	}
	m.Paused.WithLabelValues(endpoint).Set(v)
}

// IncDeadLettered counts a task this process dead-lettered.
func (m *Metrics) IncDeadLettered(endpoint, code string) {
	if m == nil {
		return
	}
	m.DeadLettered.WithLabelValues(endpoint, code).Inc()
}

// SetSMSSentToday records an SMS endpoint's messages counted today.
func (m *Metrics) SetSMSSentToday(endpoint string, n int) {
	if m == nil {
		return
	}
	m.SMSSentToday.WithLabelValues(endpoint).Set(float64(n))
}
