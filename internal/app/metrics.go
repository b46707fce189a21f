package app

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the daemon's Prometheus metrics. Labels are bounded: input
// names, Falco sources from a fixed set, drop reasons from the code.
type Metrics struct {
	Registry      *prometheus.Registry
	Received      *prometheus.CounterVec
	Written       prometheus.Counter
	Folded        prometheus.Counter
	Dropped       *prometheus.CounterVec
	WriteErrors   prometheus.Counter
	QueueFull     prometheus.Counter
	IncidentsOpen prometheus.Gauge
	StreamState   *prometheus.GaugeVec
	Reconnects    *prometheus.CounterVec
	SpoolErrors   prometheus.Counter
	SpoolBytes    prometheus.Gauge
	QueueDepth    prometheus.Gauge
	Storms        prometheus.Counter
	Evidence      *prometheus.CounterVec
	Reported      prometheus.Counter
	Latency       prometheus.Histogram
}

// knownSources bounds the source label; other sources count as "other".
var knownSources = map[string]bool{
	"syscall": true, "internal": true, "k8s_audit": true, "aws_cloudtrail": true,
	"gcp_auditlog": true, "github": true, "okta": true,
}

// NewMetrics registers every metric in a new registry.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{
		Registry:      r,
		Received:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "falco_reporter_alerts_received_total", Help: "Alerts accepted into the pipeline, by Falco source."}, []string{"source"}),
		Written:       prometheus.NewCounter(prometheus.CounterOpts{Name: "falco_reporter_reports_written_total", Help: "Report writes (first writes and in-place updates of folded incidents)."}),
		Folded:        prometheus.NewCounter(prometheus.CounterOpts{Name: "falco_reporter_alerts_folded_total", Help: "Alerts folded into an already open incident."}),
		Dropped:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "falco_reporter_alerts_dropped_total", Help: "Alerts or input lines not reported, by reason."}, []string{"reason"}),
		WriteErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "falco_reporter_write_errors_total", Help: "Failed attempts to write a batch of reports."}),
		QueueFull:     prometheus.NewCounter(prometheus.CounterOpts{Name: "falco_reporter_queue_full_total", Help: "Times an input found the spool full (backpressure: gRPC waits, HTTP answers 503)."}),
		IncidentsOpen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "falco_reporter_incidents_open", Help: "Incidents still folding repeated alerts."}),
		StreamState:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "falco_reporter_stream_state", Help: "Input state: 0 connecting, 1 connected, 2 disconnected."}, []string{"input"}),
		Reconnects:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "falco_reporter_reconnects_total", Help: "Times an input lost Falco and tried again."}, []string{"input"}),
		SpoolErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "falco_reporter_spool_errors_total", Help: "Failed appends to the spool (e.g. disk full)."}),
		SpoolBytes:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "falco_reporter_spool_bytes", Help: "Bytes of received alerts held in the spool until their reports are durable."}),
		QueueDepth:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "falco_reporter_queue_depth", Help: "Alerts in the spool not yet taken by the writer."}),
		Storms:        prometheus.NewCounter(prometheus.CounterOpts{Name: "falco_reporter_storms_total", Help: "Alert storms: a rule opened more incidents on one host than incidents.storm allows."}),
		Evidence:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "falco_reporter_evidence_total", Help: "Evidence snapshots by outcome: taken, exited, pid_reused, failed; or never asked for: skipped_rate, skipped_busy, skipped_storm, skipped_stopping; or given_up (too many awaited at once)."}, []string{"outcome"}),
		Reported:      prometheus.NewCounter(prometheus.CounterOpts{Name: "falco_reporter_alerts_reported_total", Help: "Alerts counted in durably written reports (an alert folded into an update counts when the update is durable)."}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "falco_reporter_report_latency_seconds", Help: "From the receipt of an alert that opens a report to that report being durable on disk.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}}),
	}
	for _, c := range []prometheus.Collector{m.Received, m.Written, m.Folded, m.Dropped, m.WriteErrors, m.QueueFull, m.IncidentsOpen, m.StreamState, m.Reconnects, m.SpoolErrors, m.SpoolBytes, m.QueueDepth, m.Storms, m.Reported, m.Latency, m.Evidence} {
		f(c)
	}
	return m
}

func (m *Metrics) received(source string) {
	if !knownSources[source] {
		source = "other"
	}
	m.Received.WithLabelValues(source).Inc()
}

// Drop counts one dropped alert or line.
func (m *Metrics) Drop(reason string) { m.Dropped.WithLabelValues(reason).Inc() }
