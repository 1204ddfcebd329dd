package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/usherhq/usher/internal/password"
)

// registerHashMetrics exposes the password hashing pool: the one slow thing
// Usher does, and so the first place to look when logins slow down. The
// rate of usher_password_hash_seconds_total divided by
// usher_password_hash_workers is how busy hashing is (1: saturated).
func registerHashMetrics(reg prometheus.Registerer, h *password.Hasher) {
	gauge := func(name, help string, v func(password.PoolStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return v(h.Stats()) })
	}
	counter := func(name, help string, v func(password.PoolStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return v(h.Stats()) })
	}
	reg.MustRegister(
		gauge("usher_password_hash_workers", "Password hashes that may run at once (hash-workers).",
			func(s password.PoolStats) float64 { return float64(s.Workers) }),
		gauge("usher_password_hash_running", "Password hashes running now.",
			func(s password.PoolStats) float64 { return float64(s.Running) }),
		gauge("usher_password_hash_queued", "Requests waiting for a hashing worker now.",
			func(s password.PoolStats) float64 { return float64(s.Queued) }),
		counter("usher_password_hashes_total", "Password hashes and verifications finished, dummy ones for unknown users included.",
			func(s password.PoolStats) float64 { return float64(s.Runs) }),
		counter("usher_password_hash_refused_total", "Hash calls refused because hashing was at capacity: the request gets 503, except a rehash after a successful check, which is skipped.",
			func(s password.PoolStats) float64 { return float64(s.Refused) }),
		counter("usher_password_hash_seconds_total", "Time spent hashing, summed over workers.",
			func(s password.PoolStats) float64 { return s.Busy.Seconds() }),
		counter("usher_password_hash_wait_seconds_total", "Time the requests that got a hashing worker waited for it.",
			func(s password.PoolStats) float64 { return s.Waited.Seconds() }),
	)
}
