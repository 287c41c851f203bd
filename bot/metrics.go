package bot

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
)

// Metrics are the bot's Prometheus metrics, in a registry of their own (no
// global state, so tests and several bots in one process do not collide).
type Metrics struct {
	Registry      *prometheus.Registry
	fetches       *prometheus.CounterVec
	fetchDuration *prometheus.HistogramVec
	newItems      *prometheus.CounterVec
	delivered     *prometheus.CounterVec
	failed        *prometheus.CounterVec
	parked        *prometheus.CounterVec
}

// NewMetrics registers the bot's metrics. Gauges that mirror the database
// (outbox depth, source health, archive size) are read at scrape time from st.
func NewMetrics(st *store.Store) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "policywire_fetches_total", Help: "Polls of a source by outcome (new, unchanged, not-modified, failed).",
		}, []string{"source", "outcome"}),
		fetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "policywire_fetch_duration_seconds", Help: "Time to fetch, parse and ingest one source.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"source"}),
		newItems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "policywire_new_items_total", Help: "Items archived for the first time, by source.",
		}, []string{"source"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "policywire_alerts_delivered_total", Help: "Alerts accepted by the chat server, by channel.",
		}, []string{"channel"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "policywire_alerts_failed_total", Help: "Failed delivery attempts, by channel.",
		}, []string{"channel"}),
		parked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "policywire_alerts_parked_total", Help: "Alerts (or digests) set aside after a permanent failure or repeated refusals, by channel.",
		}, []string{"channel"}),
	}
	m.Registry.MustRegister(m.fetches, m.fetchDuration, m.newItems, m.delivered, m.failed, m.parked,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&storeCollector{st: st})
	return m
}

// ObservePoll records one poll.
func (m *Metrics) ObservePoll(r PollResult, _ *sources.ReadResult) {
	m.fetches.WithLabelValues(r.Source, string(r.Outcome)).Inc()
	m.fetchDuration.WithLabelValues(r.Source).Observe(r.Duration.Seconds())
	if r.New > 0 {
		m.newItems.WithLabelValues(r.Source).Add(float64(r.New))
	}
}

// ObserveDelivery records one delivery attempt.
func (m *Metrics) ObserveDelivery(e DeliveryEvent) {
	if e.Err == nil {
		if !e.Edit {
			m.delivered.WithLabelValues(e.Channel).Inc()
		}
	} else {
		m.failed.WithLabelValues(e.Channel).Inc()
	}
	if e.Parked {
		m.parked.WithLabelValues(e.Channel).Inc()
	}
}

var (
	outboxDepthDesc = prometheus.NewDesc("policywire_outbox_depth", "Alerts waiting in the outbox, by channel.", []string{"channel"}, nil)
	failuresDesc    = prometheus.NewDesc("policywire_source_consecutive_failures", "Failed polls in a row, by source.", []string{"source"}, nil)
	lastSuccessDesc = prometheus.NewDesc("policywire_source_last_success_timestamp_seconds", "Unix time of the last successful poll, by source.", []string{"source"}, nil)
	archiveDesc     = prometheus.NewDesc("policywire_archive_items", "Items in the archive.", nil, nil)
)

// storeCollector reads the gauges from the database at scrape time, so they
// can never drift from what is stored.
type storeCollector struct{ st *store.Store }

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepthDesc
	ch <- failuresDesc
	ch <- lastSuccessDesc
	ch <- archiveDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	if depth, err := c.st.OutboxDepth(); err == nil {
		for channel, n := range depth {
			ch <- prometheus.MustNewConstMetric(outboxDepthDesc, prometheus.GaugeValue, float64(n), channel)
		}
	}
	if states, err := c.st.SourceStates(); err == nil {
		for id, s := range states {
			ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.GaugeValue, float64(s.ConsecutiveFailures), id)
			if !s.LastSuccess.IsZero() {
				ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(s.LastSuccess.Unix()), id)
			}
		}
	}
	if n, err := c.st.ItemCount(); err == nil {
		ch <- prometheus.MustNewConstMetric(archiveDesc, prometheus.GaugeValue, float64(n))
	}
}
