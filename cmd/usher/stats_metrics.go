package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usherhq/usher/internal/store"
)

// statsTTL is how long one reading of the database's figures serves
// scrapes: however often /metrics is read (several Prometheus servers, a
// scrape storm), the query runs at most once per statsTTL on each node.
const statsTTL = 5 * time.Second

// statsTimeout bounds one reading; a scrape has no context of its own.
const statsTimeout = 5 * time.Second

// statsCollector exposes database-wide figures (store.Stats): the outbox
// by state, the age of its oldest waiting message, and live sessions. A
// reading that fails leaves those figures out of that scrape, counts
// usher_stats_errors_total and is logged; the rest of /metrics is served.
type statsCollector struct {
	read func(ctx context.Context, now time.Time) (store.Stats, error)
	now  func() time.Time // the clock the age is measured on
	log  *slog.Logger
	ttl  time.Duration

	messages, oldest, sessions *prometheus.Desc
	hooks, hookOldest          *prometheus.Desc
	errors                     prometheus.Counter

	mu     sync.Mutex // held while reading, so concurrent scrapes share one query
	readAt time.Time  // when the last reading was made (wall clock)
	last   store.Stats
	ok     bool // the last reading succeeded
}

func newStatsCollector(read func(context.Context, time.Time) (store.Stats, error), now func() time.Time, log *slog.Logger) *statsCollector {
	return &statsCollector{
		read: read, now: now, log: log, ttl: statsTTL,
		messages: prometheus.NewDesc("usher_outbox_messages",
			"Outbox messages by status: pending (waiting for a first attempt, or being sent), failed (waiting to be retried after a failed attempt), sent and abandoned (kept a week after they were queued; counted up to a million).",
			[]string{"status"}, nil),
		oldest: prometheus.NewDesc("usher_outbox_oldest_pending_age_seconds",
			"Age of the oldest outbox message waiting to be sent (pending or failed); 0 when none is.", nil, nil),
		hooks: prometheus.NewDesc("usher_webhook_deliveries",
			"Webhook deliveries by status: pending (waiting for a first attempt, or being sent), failed (waiting to be retried), abandoned (given up; counted up to a million).",
			[]string{"status"}, nil),
		hookOldest: prometheus.NewDesc("usher_webhook_oldest_pending_age_seconds",
			"Age of the oldest webhook delivery waiting to be sent; 0 when none is.", nil, nil),
		sessions: prometheus.NewDesc("usher_sessions_active",
			"Sessions that have not expired, counted up to a million.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "usher_stats_errors_total",
			Help: "Readings of the outbox and session figures that failed; those figures are missing from the scrape that tried.",
		}),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.messages
	ch <- c.oldest
	ch <- c.sessions
	ch <- c.hooks
	ch <- c.hookOldest
	ch <- c.errors.Desc()
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st, ok := c.stats()
	ch <- c.errors
	if !ok {
		return
	}
	gauge := prometheus.GaugeValue
	for _, m := range []struct {
		status string
		n      int64
	}{{"pending", st.Pending}, {"failed", st.Failed}, {"sent", st.Sent}, {"abandoned", st.Abandoned}} {
		ch <- prometheus.MustNewConstMetric(c.messages, gauge, float64(m.n), m.status)
	}
	age := 0.0
	if !st.OldestPending.IsZero() {
		age = max(0, c.now().Sub(st.OldestPending).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, gauge, age)
	ch <- prometheus.MustNewConstMetric(c.sessions, gauge, float64(st.Sessions))
	for _, m := range []struct {
		status string
		n      int64
	}{{"pending", st.HookPending}, {"failed", st.HookFailed}, {"abandoned", st.HookAbandoned}} {
		ch <- prometheus.MustNewConstMetric(c.hooks, gauge, float64(m.n), m.status)
	}
	hookAge := 0.0
	if !st.HookOldestPending.IsZero() {
		hookAge = max(0, c.now().Sub(st.HookOldestPending).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.hookOldest, gauge, hookAge)
}

// stats returns the last reading, made afresh when it is older than ttl. A
// failed reading is kept as long, so a database in trouble is not asked
// again by every scrape.
func (c *statsCollector) stats() (store.Stats, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.readAt.IsZero() && time.Since(c.readAt) < c.ttl {
		return c.last, c.ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	st, err := c.read(ctx, c.now())
	c.readAt = time.Now()
	if err != nil {
		c.errors.Inc()
		c.log.Warn("reading the outbox and session figures for /metrics failed", "event", "stats_failed", "error", err)
		c.last, c.ok = store.Stats{}, false
		return c.last, false
	}
	c.last, c.ok = st, true
	return st, true
}

// registerDataMetrics registers the figures that come from the use cases
// and the database: the account events (counted since start, on this node)
// and the store's figures (database-wide: every node reports the same).
func (m *Main) registerDataMetrics(reg prometheus.Registerer) {
	reg.MustRegister(m.events.vec, newStatsCollector(m.Store.Stats, m.Now, m.Log))
}
