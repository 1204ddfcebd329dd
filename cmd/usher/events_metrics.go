package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/usherhq/usher/internal/account"
)

// accountEvents is account.Events for /metrics: one counter per event and
// outcome. Both labels come from the fixed sets account.EventOutcomes
// lists, so the series are few and none names a user; every count is
// there from the start, at zero, so that rate() and increase() see the
// first event.
type accountEvents struct {
	vec      *prometheus.CounterVec
	counters map[[2]string]prometheus.Counter // read-only once built
}

func newAccountEvents() *accountEvents {
	e := &accountEvents{
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usher_account_events_total",
			Help: "Account events by outcome: logins, password checks, lockouts started, users created and registered, password resets, email verifications.",
		}, []string{"event", "outcome"}),
		counters: map[[2]string]prometheus.Counter{},
	}
	for name, outcomes := range account.EventOutcomes() {
		for _, o := range outcomes {
			e.counters[[2]string{name, o}] = e.vec.WithLabelValues(name, o)
		}
	}
	return e
}

// Event counts one event. A pair the account package does not list (a
// mistake there) is counted as event="other", so a label never takes an
// unbounded value.
func (e *accountEvents) Event(name, outcome string) {
	if c, ok := e.counters[[2]string{name, outcome}]; ok {
		c.Inc()
		return
	}
	e.vec.WithLabelValues("other", "other").Inc()
}
