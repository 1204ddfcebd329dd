package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/usherhq/usher/internal/password"
)

// hashMetric is one figure of the hashing pool in /metrics.
type hashMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(password.PoolStats) float64
}

// hashCollector exposes the password hashing pool: the one slow thing Usher
// does, and so the first place to look when logins slow down. The rate of
// usher_password_hash_seconds_total divided by usher_password_hash_workers
// is how busy hashing is (1: saturated). Each scrape reads the pool's
// counters once, so the figures of one scrape go together.
type hashCollector struct {
	h       *password.Hasher
	metrics []hashMetric
}

func registerHashMetrics(reg prometheus.Registerer, h *password.Hasher) {
	m := func(name, help string, kind prometheus.ValueType, v func(password.PoolStats) float64) hashMetric {
		return hashMetric{desc: prometheus.NewDesc(name, help, nil, nil), kind: kind, value: v}
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	reg.MustRegister(&hashCollector{h: h, metrics: []hashMetric{
		m("usher_password_hash_workers", "Password hashes that may run at once (hash-workers).", gauge,
			func(s password.PoolStats) float64 { return float64(s.Workers) }),
		m("usher_password_hash_running", "Password hashes running now.", gauge,
			func(s password.PoolStats) float64 { return float64(s.Running) }),
		m("usher_password_hash_queued", "Requests waiting for a hashing worker now.", gauge,
			func(s password.PoolStats) float64 { return float64(s.Queued) }),
		m("usher_password_hashes_total", "Password hashes and verifications finished, dummy ones for unknown users included.", counter,
			func(s password.PoolStats) float64 { return float64(s.Runs) }),
		m("usher_password_hash_refused_total", "Hash calls refused because hashing was at capacity: the request gets 503, except a rehash after a successful check, which is skipped.", counter,
			func(s password.PoolStats) float64 { return float64(s.Refused) }),
		m("usher_password_hash_seconds_total", "Time spent hashing, summed over workers.", counter,
			func(s password.PoolStats) float64 { return s.Busy.Seconds() }),
		m("usher_password_hash_wait_seconds_total", "Time the requests that got a hashing worker waited for it.", counter,
			func(s password.PoolStats) float64 { return s.Waited.Seconds() }),
	}})
}

func (c *hashCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

func (c *hashCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Stats()
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(s))
	}
}
